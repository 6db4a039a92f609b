"""Public views: the statement, its signatories as a page and as open data, privacy, health."""

from __future__ import annotations

import json

from flask import Response, abort, current_app, jsonify, render_template, request
from sqlalchemy import select, text

from ..extensions import db
from ..models import CampaignUpdate, OrganisationType, SiteText, utcnow
from ..services import signatories
from ..services.statements import (
    StatementNotFound,
    get_statement,
    open_statements,
    render_markdown,
)
from ..services.validation import country_choices
from ..signing.forms import LostLinkForm
from . import bp


def _statement_or_404(slug: str):
    try:
        return get_statement(slug)
    except StatementNotFound:
        abort(404, description="There is no statement at this address.")


@bp.get("/")
def index():
    statements = open_statements()
    if len(statements) == 1:
        return statement_page(statements[0])
    return render_template("public/index.html", statements=statements)


@bp.get("/statements/<slug>")
def statement(slug: str):
    return statement_page(_statement_or_404(slug))


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
    from ..services import pdf_builds

    return pdf_builds.latest_version(statement)


def _list_filter() -> signatories.ListFilter:
    args = request.args
    country = (args.get("country") or "").strip().upper()[:2]
    org_type = (args.get("type") or "").strip()
    if org_type not in {t.value for t in OrganisationType}:
        org_type = ""
    sort = args.get("sort") or "type"
    if sort not in ("type", "country", "name", "recent"):
        sort = "type"
    try:
        page = max(1, min(int(args.get("page", 1)), 100_000))
    except ValueError:
        page = 1
    return signatories.ListFilter(
        q=(args.get("q") or "").strip()[:100],
        country=country if country.isalpha() else "",
        type=org_type,
        sort=sort,
        page=page,
        per_page=current_app.config["SIGNATORIES_PER_PAGE"],
    )


@bp.get("/statements/<slug>/signatories")
def signatory_list(slug: str):
    statement = _statement_or_404(slug)
    flt = _list_filter()
    page = signatories.search(statement, flt)
    return render_template(
        "public/signatories.html",
        statement=statement,
        page=page,
        flt=flt,
        type_choices=[(t.value, t.label) for t in OrganisationType],
        country_names=dict(country_choices()),
    )


def _conditional(statement) -> tuple[str, Response | None]:
    etag = signatories.list_etag(statement)
    # If-None-Match compares weakly: a compressing proxy may have turned the tag into W/"…".
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
        response.set_etag(etag)
        return etag, response
    return etag, None


@bp.get("/statements/<slug>/signatories.json")
def signatories_json(slug: str):
    statement = _statement_or_404(slug)
    etag, not_modified = _conditional(statement)
    if not_modified:
        return not_modified
    response = jsonify(signatories.open_data(statement))
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/statements/<slug>/signatories.csv")
def signatories_csv(slug: str):
    statement = _statement_or_404(slug)
    etag, not_modified = _conditional(statement)
    if not_modified:
        return not_modified
    body = "".join(signatories.open_data_csv(statement))
    response = Response("\ufeff" + body, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="signatories-{statement.slug}.csv"'
    )
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.set_etag(etag)
    return response


@bp.get("/privacy")
def privacy():
    custom = db.session.get(SiteText, "privacy")
    statements = open_statements()
    controller = statements[0].campaign if statements else "the campaign"
    body_html = render_markdown(custom.body) if custom is not None else None
    return render_template(
        "public/privacy.html",
        body_html=body_html,
        controller=controller,
        token_days=current_app.config["TOKEN_MAX_AGE_DAYS"],
        unconfirmed_days=current_app.config["UNCONFIRMED_RETENTION_DAYS"],
        contact_days=current_app.config["CONTACT_RETENTION_DAYS_AFTER_CLOSE"],
    )


@bp.get("/healthz")
def healthz():
    result: dict = {"status": "ok"}
    status = 200
    try:
        db.session.execute(text("SELECT 1"))
        result["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        result["database"] = f"error: {type(exc).__name__}"
        result["status"] = "error"
        status = 503
    if current_app.config.get("REDIS_URL"):
        try:
            from redis import Redis

            Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=2).ping()
            result["queue"] = "ok"
        except Exception as exc:  # noqa: BLE001
            result["queue"] = f"error: {type(exc).__name__}"
            result["status"] = "error"
            status = 503
    else:
        result["queue"] = "in-process"
    if result["database"] == "ok":
        from ..services import pdf_builds

        ages = {}
        for st in open_statements():
            latest = pdf_builds.latest_version(st)
            ages[st.slug] = (
                round((utcnow() - latest.created_at).total_seconds()) if latest else None
            )
        result["pdf_age_seconds"] = ages
    return Response(json.dumps(result), status=status, mimetype="application/json")
