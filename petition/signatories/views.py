"""The public signatory list and the open data (JSON, CSV)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from feedgen.feed import FeedGenerator
from flask import Response, current_app, jsonify, render_template, request, url_for
from flask_babel import lazy_gettext

from ..core import identity
from ..core.caching import etag_for, public_page
from ..core.http import whole_number
from ..core.validation import country_choices
from ..models import OrganisationType
from ..statements.campaign import published_updates
from ..statements.service import public_state, render_markdown, statement_or_404
from . import bp, changes
from . import service as signatories


def _list_filter() -> signatories.ListFilter:
    args = request.args
    country = (args.get("country") or "").strip().upper()[:2]
    org_type = (args.get("type") or "").strip()
    if org_type not in {t.value for t in OrganisationType}:
        org_type = ""
    sort = args.get("sort") or "type"
    if sort not in ("type", "country", "name", "recent"):
        sort = "type"
    return signatories.ListFilter(
        q=(args.get("q") or "").strip()[:100],
        country=country if country.isalpha() else "",
        type=org_type,
        sort=sort,
        page=min(args.get("page", 1, type=whole_number), 100_000),
        per_page=current_app.config["SIGNATORIES_PER_PAGE"],
    )


@bp.get("/statements/<slug>/signatories")
def signatory_list(slug: str):
    statement = statement_or_404(slug)
    # The query string is part of the URL, and so of what a cache keys the page by.
    etag = etag_for("signatories", public_state(statement))
    return public_page(etag, lambda: _render_list(statement))


def _render_list(statement):
    flt = _list_filter()
    page = signatories.search(statement, flt)
    return render_template(
        "public/signatories.html",
        statement=statement,
        page=page,
        flt=flt,
        type_choices=[(t.value, t.label) for t in OrganisationType],
        country_names=dict(country_choices()),
        filtered=bool(flt.q or flt.country or flt.type),
        filter_args={
            k: v for k, v in (("q", flt.q), ("country", flt.country), ("type", flt.type)) if v
        },
    )


def _open_data_filter() -> signatories.ListFilter | None:
    """The list page's search and filters (q, country, type), when the link carries any: the
    open data is then the signatories the page shows, in the same format."""
    flt = _list_filter()
    return flt if (flt.q or flt.country or flt.type) else None


@bp.get("/statements/<slug>/signatories.json")
def signatories_json(slug: str):
    statement = statement_or_404(slug)
    flt = _open_data_filter()
    etag = signatories.open_data_etag(statement, flt)
    # Any site may read it (CORS): core/security.py's OPEN_DATA_ENDPOINTS.
    return public_page(
        etag, lambda: _licensed(jsonify(signatories.open_data(statement, flt)), statement)
    )


@bp.get("/statements/<slug>/signatories.csv")
def signatories_csv(slug: str):
    statement = statement_or_404(slug)
    flt = _open_data_filter()
    etag = signatories.open_data_etag(statement, flt)
    return public_page(etag, lambda: _licensed(_csv(statement, flt), statement))


def _licensed(response: Response, statement) -> Response:
    """The open data names its licence in a header (RFC 8288's registered "license" relation),
    leaving the files' own format as it is."""
    response.headers["Link"] = f'<{signatories.open_data_licence(statement)["url"]}>; rel="license"'
    return response


def _csv(statement, flt: signatories.ListFilter | None) -> Response:
    body = "".join(signatories.open_data_csv(statement, flt))
    response = Response("\ufeff" + body, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="signatories-{statement.slug}.csv"'
    )
    return response


#: What each open-data field holds, in the order of the files' columns.
FIELD_MEANINGS = (
    ("organisation_name", lazy_gettext("The organisation's name, as published.")),
    ("organisation_type", lazy_gettext("Its type, as a code (see the list below).")),
    ("organisation_type_label", lazy_gettext("Its type in words, as the PDF groups it.")),
    ("country", lazy_gettext("Its country: ISO 3166-1 alpha-2 code (BE, PL, GR…).")),
    ("country_name", lazy_gettext("The country's English name.")),
    ("city", lazy_gettext("Its city or town (may be empty).")),
    ("website", lazy_gettext("Its website (may be empty).")),
    ("comment", lazy_gettext("A quote the organisation chose to publish (may be empty).")),
    (
        "approved_at",
        lazy_gettext("When the campaign team approved the endorsement (ISO 8601, UTC)."),
    ),
)


@bp.get("/statements/<slug>/data")
def open_data_page(slug: str):
    statement = statement_or_404(slug)
    etag = etag_for("data-page", public_state(statement))
    return public_page(
        etag,
        lambda: render_template(
            "public/data.html",
            statement=statement,
            fields=FIELD_MEANINGS,
            licence=signatories.open_data_licence(statement),
            types=[(t.value, t.label) for t in OrganisationType],
            count=signatories.public_count(statement),
            base_url=current_app.config["PUBLIC_BASE_URL"],
        ),
    )


# ---------------------------------------------------------------- the record of changes, feeds


def _before_day() -> date | None:
    raw = (request.args.get("before") or "").strip()[:10]
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.get("/statements/<slug>/changes")
def changes_page(slug: str):
    statement = statement_or_404(slug)
    before = _before_day()
    etag = etag_for("changes", public_state(statement), changes.changes_state(statement), before)
    return public_page(
        etag,
        lambda: render_template(
            "public/changes.html", statement=statement, record=changes.changes(statement, before)
        ),
    )


def _feed(statement, kind: str, title: str) -> FeedGenerator:
    base = current_app.config["PUBLIC_BASE_URL"]
    feed = FeedGenerator()
    feed.id(f"{base}{url_for('signatories.' + kind + '_atom', slug=statement.slug)}")
    feed.title(title)
    feed.author({"name": identity.current().name})
    feed.link(href=f"{base}{url_for('statements.statement', slug=statement.slug)}", rel="alternate")
    feed.link(
        href=f"{base}{url_for('signatories.' + kind + '_atom', slug=statement.slug)}", rel="self"
    )
    feed.language(statement.language or "en")
    return feed


def _atom(feed: FeedGenerator, fallback_updated) -> Response:
    """The feed's own `updated` is its newest entry's (the same bytes for the same content)."""
    feed.updated(max((e.updated() for e in feed.entry()), default=fallback_updated))
    return Response(feed.atom_str(pretty=True), mimetype="application/atom+xml")


@bp.get("/statements/<slug>/signatories.atom")
def signatories_atom(slug: str):
    statement = statement_or_404(slug)
    etag = etag_for("signatories.atom", public_state(statement))

    def render() -> Response:
        base = current_app.config["PUBLIC_BASE_URL"]
        feed = _feed(statement, "signatories", f"New signatories: {statement.title}")
        feed.subtitle(f"Organisations that have endorsed “{statement.title}”, newest first.")
        for signature in reversed(changes.newest_signatories(statement)):
            entry = feed.add_entry()
            entry.id(f"{base}/statements/{statement.slug}/signatories#signatory-{signature.id}")
            entry.title(signature.organisation_name)
            place = ", ".join(p for p in (signature.city, signature.country_name) if p)
            entry.summary(f"{signature.organisation_type_label} · {place}")
            entry.link(
                href=base
                + url_for(
                    "signatories.signatory_list",
                    slug=statement.slug,
                    q=signature.organisation_name,
                )
            )
            entry.updated(signature.approved_at)
            entry.published(signature.approved_at)
        return _atom(feed, statement.created_at)

    return public_page(etag, render)


@bp.get("/statements/<slug>/updates.atom")
def updates_atom(slug: str):
    statement = statement_or_404(slug)
    etag = etag_for("updates.atom", public_state(statement), changes.changes_state(statement))

    def render() -> Response:
        base = current_app.config["PUBLIC_BASE_URL"]
        page = f"{base}{url_for('statements.statement', slug=statement.slug)}"
        feed = _feed(statement, "updates", f"Campaign updates: {statement.title}")
        for update in reversed(published_updates(statement)):
            entry = feed.add_entry()
            entry.id(f"{page}#update-{update.id}")
            entry.title(update.title)
            entry.link(href=update.link_url or f"{page}#updates-title")
            text = "\n\n".join(p for p in (update.body, update.attribution) if p)
            if text:
                entry.content(render_markdown(text), type="html")
            when = update.published_on or update.created_at.date()
            entry.published(datetime.combine(when, time.min, tzinfo=UTC))
            entry.updated(update.updated_at)
        return _atom(feed, statement.created_at)

    return public_page(etag, render)
