"""What other sites show of a statement: a small page they may frame (the live count, the title,
a Sign button) and the count as JSON for sites that draw their own.

Both are public pages like the statement's (an ETag from the list's version, no cookie), and the
embed page is the one route whose answer any origin may frame (core/security.py)."""

from __future__ import annotations

from flask import current_app, jsonify, render_template, request, url_for
from flask_babel import force_locale

from ..core.caching import etag_for, public_page
from ..core.dates import machine_datetime
from ..extensions import babel
from ..signatories import service as signatories
from . import bp
from .service import public_state, statement_or_404

THEMES = ("light", "dark")


def _absolute(endpoint: str, **values) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + url_for(endpoint, **values)


def embed_language() -> str | None:
    """The `lang` a framing site asked for, if the site has that catalogue (else the default)."""
    wanted = (request.args.get("lang") or "").strip().lower()[:8]
    known = {str(locale) for locale in babel.list_translations()}
    return wanted if wanted in known else None


@bp.get("/statements/<slug>/embed")
def embed(slug: str):
    statement = statement_or_404(slug)
    theme = request.args.get("theme", "light")
    theme = theme if theme in THEMES else "light"
    lang = embed_language()
    # The query string is part of the URL, which every cache keys the page by.
    etag = etag_for("embed", public_state(statement), theme, lang)

    def render():
        with force_locale(lang or statement.language or "en"):
            return render_template(
                "public/embed.html",
                statement=statement,
                count=signatories.public_count(statement),
                theme=theme,
                lang=lang or "en",
                sign_url=_absolute("signing.sign", slug=statement.slug),
                statement_url=_absolute("statements.statement", slug=statement.slug),
            )

    return public_page(etag, render)


@bp.get("/statements/<slug>/count.json")
def count_json(slug: str):
    statement = statement_or_404(slug)
    etag = etag_for("count", public_state(statement))

    def render():
        return jsonify(
            {
                "statement": {"slug": statement.slug, "title": statement.title},
                "count": signatories.public_count(statement),
                "updated_at": _utc(statement.list_changed_at),
                "url": _absolute("statements.statement", slug=statement.slug),
                "sign_url": _absolute("signing.sign", slug=statement.slug),
            }
        )

    # Any site may read it from its own pages' scripts: core/security.py adds the CORS header.
    return public_page(etag, render)


def _utc(value) -> str | None:
    """An ISO 8601 UTC timestamp (stored values are UTC, naive or not)."""
    if value is None:
        return None
    text = machine_datetime(value.replace(tzinfo=None))
    return text + "Z"


def embed_snippet(statement) -> str:
    """The HTML a partner site pastes to show the counter (the console shows it to copy)."""
    src = _absolute("statements.embed", slug=statement.slug)
    title = statement.title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return (
        f'<iframe src="{src}" title="{title}" width="360" height="220" '
        'style="border:0;max-width:100%" loading="lazy"></iframe>'
    )
