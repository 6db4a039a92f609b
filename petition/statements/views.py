"""Public statement pages: the home page, a statement with its initiators and updates, privacy."""

from __future__ import annotations

from flask import current_app, render_template
from sqlalchemy import select

from ..extensions import db
from ..models import CampaignUpdate, SiteText
from ..signatories import service as signatories
from ..signing.forms import LostLinkForm
from . import bp, site_texts
from .service import all_statements, render_markdown, statement_or_404


@bp.get("/")
def index():
    statements = all_statements()
    if len(statements) == 1:
        return statement_page(statements[0])
    return render_template("public/index.html", statements=statements)


@bp.get("/statements/<slug>")
def statement(slug: str):
    return statement_page(statement_or_404(slug))


def statement_page(statement):
    version = statement.current_version
    updates = db.session.scalars(
        select(CampaignUpdate)
        .where(CampaignUpdate.statement_id == statement.id, CampaignUpdate.is_published.is_(True))
        .order_by(CampaignUpdate.published_on.desc(), CampaignUpdate.position)
    ).all()
    pdf = _latest_pdf(statement)
    return render_template(
        "public/statement.html",
        statement=statement,
        body_html=render_markdown(version.body if version else ""),
        version=version,
        initiators=signatories.initiators(statement),
        count=signatories.public_count(statement),
        latest=signatories.latest_public(statement),
        updates=updates,
        pdf=pdf,
        lost_link_form=LostLinkForm(),
    )


def _latest_pdf(statement):
    from ..pdf import builds

    return builds.latest_version(statement)


@bp.get("/privacy")
def privacy():
    custom = db.session.get(SiteText, "privacy")
    body_html = render_markdown(custom.body) if custom is not None else None
    return render_template(
        "public/privacy.html",
        body_html=body_html,
        controller=site_texts.data_controller(),
        token_days=current_app.config["TOKEN_MAX_AGE_DAYS"],
        unconfirmed_days=current_app.config["UNCONFIRMED_RETENTION_DAYS"],
        contact_days=current_app.config["CONTACT_RETENTION_DAYS_AFTER_CLOSE"],
    )
