"""The request class: form bodies that are not valid UTF-8 are refused rather than silently altered."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Request
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser


class InvalidFormEncoding(BadRequest):
    description = "What was sent is not valid UTF-8 text."


class StrictFormDataParser(FormDataParser):
    """Werkzeug keeps undecodable bytes of a URL-encoded body as literal '%FF' text (and drops
    the whole form on raw non-UTF-8 bytes, which then reads as a missing CSRF token); either
    way a mangled name could be stored. Refuse such a body with a clear 400 instead."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        try:
            items = parse_qsl(
                stream.read().decode("utf-8"),
                keep_blank_values=True,
                encoding="utf-8",
                errors="strict",
            )
        except UnicodeDecodeError:
            # Not a ValueError to the caller: FormDataParser.parse would swallow that.
            raise InvalidFormEncoding() from None
        return stream, self.cls(items), self.cls()


class JointlyRequest(Request):
    form_data_parser_class = StrictFormDataParser
