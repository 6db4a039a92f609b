"""Public statement pages: the home page, a statement with its initiators and updates, privacy.

Every visitor gets the same page: each is cached by browsers and shared caches and revalidated
with an ETag computed from a few cheap queries (core/caching.py), without rendering."""

from __future__ import annotations

from flask import current_app, render_template

from ..core.caching import etag_for, public_page
from ..core.i18n import current_language
from ..extensions import db
from ..models import SiteText
from ..signatories import glance
from ..signatories import service as signatories
from . import bp, campaign, site_texts, translations
from .service import all_statements, public_state, render_markdown, statement_or_404


@bp.get("/")
def index():
    statements = all_statements()
    if len(statements) == 1:
        return statement_page(statements[0])
    etag = etag_for("index", *(public_state(s) for s in statements))
    return public_page(etag, lambda: render_template("public/index.html", statements=statements))


@bp.get("/statements/<slug>")
def statement(slug: str):
    return statement_page(statement_or_404(slug))


def statement_page(statement):
    from ..pdf import builds

    etag = etag_for(
        "statement",
        public_state(statement),
        campaign.updates_state(statement.id),
        builds.versions_state(statement.id),
        # A page in another language than the statement's may show its translation.
        ""
        if current_language() == statement.language
        else translations.translation_state(statement, current_language()),
    )
    return public_page(etag, lambda: _render_statement(statement, builds.latest_version(statement)))


def _render_statement(statement, pdf):
    from ..pdf import builds

    version = statement.current_version
    updates = campaign.published_updates(statement)
    lang = current_language()
    translated = translations.translation(statement, lang) if lang != statement.language else None
    body = translated.body if translated else (version.body if version else "")
    return render_template(
        "public/statement.html",
        statement=statement,
        translated=translated,
        body_html=render_markdown(body),
        version=version,
        initiators=signatories.initiators(statement),
        count=signatories.public_count(statement),
        latest=signatories.latest_public(statement),
        updates=updates,
        pdf=pdf,
        deliveries=builds.deliveries(statement),
        glance=glance.glance(statement),
        classes=glance.CLASSES,
    )


@bp.get("/privacy")
def privacy():
    custom = db.session.get(SiteText, "privacy")
    config = current_app.config
    periods = (
        config["TOKEN_MAX_AGE_DAYS"],
        config["UNCONFIRMED_RETENTION_DAYS"],
        config["CONTACT_RETENTION_DAYS_AFTER_CLOSE"],
    )
    # The campaign's identity, which the built-in notice is made of, is part of every ETag.
    etag = etag_for("privacy", custom.body if custom else None, *periods)
    return public_page(
        etag,
        lambda: render_template(
            "public/privacy.html",
            body_html=render_markdown(custom.body) if custom is not None else None,
            changed_on=site_texts.privacy_changed_on(custom),
            token_days=periods[0],
            unconfirmed_days=periods[1],
            contact_days=periods[2],
        ),
    )
