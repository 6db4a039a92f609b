"""Jinja filters and globals shared by the templates."""

from __future__ import annotations

import re

from flask import Flask
from flask_babel import format_number
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from ..models import utcnow
from . import i18n, identity, wording
from .dates import format_date, format_timestamp, machine_datetime


class SharedTemplateCode(BytecodeCache):
    """Compiled templates kept for every application object of the process, by template name and
    checked against its source's checksum (Jinja's own check): each test builds an application
    of its own, and compiled every template it used anew (a quarter of a short test's time)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = SharedTemplateCode()

_DOT_IN_NAME = re.compile(r"(?<=\w)\.(?=\w)")
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):/+")
_AT_IN_ADDRESS = re.compile(r"(?<=\w)@(?=\w)")


def inert(value: str | None) -> str:
    """Text someone typed, in an email (plain and HTML part), with nothing a mail client would
    make a link.

    Anyone can make the site mail any address, so an organisation name like "evil.example"
    or "http://…" must not arrive as a clickable link under the campaign's name. Mail clients
    link such text in HTML mail too, not only in plain text.
    """
    text = _SCHEME.sub(r"\1[:]//", value or "")
    text = _AT_IN_ADDRESS.sub("[at]", text)
    return _DOT_IN_NAME.sub("[.]", text)


def share_tags() -> dict | None:
    """What a page's Open Graph and Twitter card tags name: its absolute URL (no query string), or
    None where a page must not describe itself to link previews — the staff console and every
    page of an emailed link (the token would be its canonical URL)."""
    from flask import current_app, request

    args = request.view_args or {}
    if request.path.startswith("/staff") or "token" in args or request.endpoint is None:
        return None
    return {"url": current_app.config["PUBLIC_BASE_URL"] + request.script_root + request.path}


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["inert"] = inert
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["number"] = format_number  # 1,234 (the locale's grouping)
    app.jinja_env.filters["datetime"] = format_timestamp
    app.jinja_env.filters["machine_datetime"] = machine_datetime
    app.jinja_env.filters["type_label"] = i18n.type_label
    app.jinja_env.filters["country_name"] = i18n.country_name
    app.jinja_env.filters["localised_countries"] = i18n.localised_countries
    app.jinja_env.globals["site_name"] = "Jointly"
    app.jinja_env.filters["state_label"] = wording.state_label
    app.jinja_env.filters["action_label"] = wording.action_label
    app.jinja_env.filters["mail_kind_label"] = wording.mail_kind_label
    app.jinja_env.filters["outbox_status_label"] = wording.outbox_status_label
    app.jinja_env.filters["field_label"] = wording.field_label
    app.jinja_env.filters["build_trigger_label"] = wording.build_trigger_label
    app.jinja_env.globals["actor_words"] = wording.actor_words
    app.jinja_env.globals["change_value"] = wording.change_value

    app.jinja_env.globals["share_tags"] = share_tags
    # Whether an email may invite a reply, and where to (the rejection email).
    app.jinja_env.globals["explicit_reply_to"] = identity.explicit_reply_to

    from ..statements.sharing import share_links  # noqa: PLC0415 - the templates' share links

    app.jinja_env.globals["share_links"] = share_links

    @app.context_processor
    def _now() -> dict:
        # The campaign's identity: one read per request (core/identity.py), whatever the page.
        return {"now": utcnow(), "campaign": identity.current()}
