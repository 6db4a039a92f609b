"""The request class: form bodies that are not valid UTF-8 are refused rather than silently altered."""

from __future__ import annotations

import ipaddress
import zlib
from contextlib import closing
from typing import cast
from urllib.parse import parse_qsl

from flask import Flask, Request, Response, abort, current_app, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin
from werkzeug.datastructures import ImmutableDict
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_range_header
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wsgi import FileWrapper

from .i18n import N_, is_localised, strip_language


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


def loggable_path() -> str:
    """The request path for a log line, with an emailed token (/confirm/…, /withdraw/…) masked:
    whoever reads the logs must not be able to confirm or withdraw someone's endorsement."""
    path = request.path
    token = (request.view_args or {}).get("token")
    return path.replace(token, "[token]") if token else path


#: The largest id a URL or a query string may name: the databases' 32-bit integer.
MAX_ID = 2_147_483_647


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: a database id in ASCII digits, at most MAX_ID.

    Werkzeug's <int:…> also matches "１" or "٣" (its regex is \\d+), and a number past 32 bits
    fails in the database: both are a 404 here.
    """

    regex = r"[0-9]{1,10}"

    def __init__(self, map: Map, *args, **kwargs) -> None:
        super().__init__(map, max=MAX_ID)


class JointlyMap(Map):
    default_converters = ImmutableDict({**Map.default_converters, "id": IdConverter})


class SessionSerializer(URLSafeTimedSerializer):
    """itsdangerous's cookie serializer, with zlib tried only on a payload that could gain. A
    sign-on's session holds a CSRF token and an address, under 200 bytes, which deflate rarely
    shortens; each attempt still sets up a fresh 256 KB deflate state (5% of a gunicorn worker's
    samples under a sign-on burst). A longer payload (flashed messages piling up, say) is compressed where that is shorter,
    as before, and loading is inherited: every cookie Flask's own serializer wrote still reads."""

    #: Payloads up to this many bytes of JSON are written as they are.
    COMPRESS_ABOVE = 256

    def dump_payload(self, obj: object) -> bytes:
        json = super(URLSafeSerializerMixin, self).dump_payload(obj)
        if len(json) > self.COMPRESS_ABOVE:
            compressed = zlib.compress(json)
            if len(compressed) < len(json) - 1:
                return b"." + base64_encode(compressed)
        return base64_encode(json)


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session with SessionSerializer, built once per key set rather
    than twice per request (open and save)."""

    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        # Flask's own order: the fallbacks, then the current key last (signing uses the last).
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = SessionSerializer(
                list(keys),
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={
                    "key_derivation": self.key_derivation,
                    "digest_method": self.digest_method,
                },
            )
        return serializer


class JointlyFlask(Flask):
    request_class = JointlyRequest
    url_map_class = JointlyMap

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = CookieSessionInterface()

    def url_for(  # type: ignore[override]  # the same parameters, passed on
        self, endpoint: str, /, *args, **values
    ) -> str:
        """Inside `/de/…`, links to pages keep the prefix (SCRIPT_NAME); links to what has no
        language (static files, the PDF, open data, the staff console) do not."""
        url = super().url_for(endpoint, *args, **values)
        if endpoint.startswith("."):
            endpoint = (request.blueprint or "") + endpoint
        return url if is_localised(endpoint) else strip_language(url)

    def process_response(self, response: Response) -> Response:
        from . import caching

        # After the session is saved, so that a Set-Cookie it added is seen.
        return caching.keep_visitors_apart(super().process_response(response))

    def send_static_file(self, filename: str) -> Response:
        """A year and `immutable` for a URL that names the file's content (`?v=`), else short."""
        from . import caching

        max_age, immutable = caching.static_max_age(filename)
        # The ETag is the content's fingerprint, the same on every host (Werkzeug's own names
        # the file's modification time).
        response = send_from_directory(
            str(self.static_folder),
            filename,
            max_age=max_age,
            etag=caching.static_fingerprint(filename) or True,
        )
        if response.status_code == 200:
            # A small file, read whole so that it can be compressed (streamed bodies are not).
            # send_file's body is Werkzeug's file wrapper: bytes, with a close().
            with closing(cast(FileWrapper, response.response)) as file:
                data = b"".join(file)
            response.direct_passthrough = False
            response.set_data(data)
        response.cache_control.public = True
        response.cache_control.immutable = immutable
        return response

    def log_exception(self, exc_info) -> None:
        # Flask's own line names request.path, which may hold a token.
        self.logger.error(
            "Exception on %s [%s]", loggable_path(), request.method, exc_info=exc_info
        )


#: What a browser sends from this site's forms.
FORM_BODIES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
#: Beside the file, a form that takes one carries its CSRF token and a few fields.
UPLOAD_FORM_OVERHEAD = 64 * 1024


def takes_file(field: str, max_bytes: int):
    """Mark a view whose form takes one file, in `field`, of at most max_bytes.

    Every other form refuses file parts (form_bodies_only); this one gets a larger body limit,
    for signed-in staff only, so an anonymous request never makes the site read a large body.
    """

    def mark(view):
        view.file_upload = (field, max_bytes)
        return view

    return mark


def _upload_of_this_route() -> tuple[str, int] | None:
    view = current_app.view_functions.get(request.endpoint or "")
    upload = getattr(view, "file_upload", None)
    if upload is None or not current_user.is_authenticated:
        return None
    return upload


def client_block(address: str) -> str:
    """The unit a client is counted by where tries are limited: an IPv4 address, or an IPv6
    address's /64 (the usual allocation of one subscriber, whose 2^64 addresses are one client,
    not that many); anything else as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def one_range_at_most() -> None:
    """Werkzeug answers a request for several byte ranges with a bare 416 (no Content-Range, no
    multipart/byteranges); such a request gets the whole file instead, as RFC 9110 allows. A
    hook before every route: static files, the favicon, the logo and the PDFs alike."""
    header = request.environ.get("HTTP_RANGE")
    if header is None:
        return
    parsed = parse_range_header(header)
    if parsed is not None and len(parsed.ranges) > 1:
        del request.environ["HTTP_RANGE"]


def form_bodies_only() -> None:
    """Every POST route here is a browser form (sign-on, confirm, staff console).

    Flask-WTF would otherwise read a JSON body as form data and hand uploaded files to the
    fields, where a number, a list or a file object instead of text ends in a 500. The
    exceptions are the views marked with takes_file, the logo (one file of at most 1 MB) and
    the console's import of signatories (one file of at most 5 MB): exactly their one file field.
    """
    if request.method != "POST" or request.url_rule is None:
        return  # not a form post, or no such route: routing answers 404/405 itself
    if request.mimetype not in FORM_BODIES:
        abort(400, description=N_("Send this form from its web page."))
    upload = _upload_of_this_route()
    if upload is not None:
        request.max_content_length = upload[1] + UPLOAD_FORM_OVERHEAD
    if not request.files:
        return
    if upload is None:
        abort(400, description=N_("This form does not take files."))
    if list(request.files) != [upload[0]] or len(request.files.getlist(upload[0])) != 1:
        abort(400, description=N_("This form takes one file."))


def is_id_text(value: str) -> bool:
    """ASCII digits only: str.isdigit() is also true for "²" or "①", which int() refuses."""
    return value.isascii() and value.isdigit()


def whole_number(text: str) -> int:
    """`type=` for request.args.get: ASCII digits up to MAX_ID, else ValueError (so the default).

    int() alone takes "١٢" or " 12 ", and a number past 32 bits fails in the database.
    """
    if not is_id_text(text) or len(text) > 10 or int(text) > MAX_ID:
        raise ValueError(f"not a whole number up to {MAX_ID}: {text!r}")
    return int(text)
