"""Serving the statement PDF and its earlier versions: this host's cached files, never generated
per request; the bytes come from the database the first time a host serves a version."""

from __future__ import annotations

import io

from flask import Response, abort, render_template, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import is_resource_modified

from ..core.caching import PRIVATE, etag_for, make_public, public_page
from ..models import PdfFileState
from ..statements.service import public_state, statement_or_404
from . import bp, builds


def _cache_headers(response: Response, version, *, private: bool = False) -> Response:
    if private:
        response.headers["Cache-Control"] = PRIVATE
    else:
        # A shared cache (nginx, a CDN) keeps the file but asks every time (a 304 costs no
        # file): a version leaves public view the moment a signatory it lists withdraws.
        make_public(response, must_revalidate=True, shared_max_age=0)
    response.headers["X-Content-SHA256"] = version.file_sha256
    return response


def send_version(statement, version, *, private: bool = False):
    # A revalidation (most requests from returning readers and caches) needs no file at all.
    if request.method in ("GET", "HEAD") and not is_resource_modified(
        request.environ, etag=version.file_sha256, last_modified=version.created_at
    ):
        response = Response(status=304)
        response.set_etag(version.file_sha256)
        response.last_modified = version.created_at
        return _cache_headers(response, version, private=private)
    cached = builds.cached_file(version)
    if cached is None:
        return _gone(statement, version)
    # conditional=True gives If-None-Match / If-Modified-Since → 304, HEAD and byte ranges.
    try:
        response = send_file(
            cached if not isinstance(cached, bytes) else io.BytesIO(cached),
            mimetype="application/pdf",
            as_attachment=False,
            download_name=builds.download_name(statement, version),
            conditional=True,
            etag=version.file_sha256,
            last_modified=version.created_at,
            max_age=60,
        )
    except RequestedRangeNotSatisfiable:
        # The site's error page would drop the header that says what range there is.
        response = Response(status=416)
        response.headers["Content-Range"] = f"bytes */{version.size}"
    return _cache_headers(response, version, private=private)


def _gone(statement, version, status: int = 410):
    if version.withdrawn_at is not None:
        reason = "withdrawn"
    elif version.file_state == PdfFileState.PRUNED:
        reason = "pruned"
    else:
        reason = "missing"
    body = render_template(
        "public/version_gone.html", statement=statement, version=version, reason=reason
    )
    return Response(body, status=status, mimetype="text/html")


@bp.get("/statements/<slug>/statement.pdf")
def statement_pdf(slug: str):
    # The hot path: one indexed query for the newest servable build, then the file from disk.
    found = builds.latest_version_by_slug(slug)
    if found is not None:
        return send_version(*found)
    statement = statement_or_404(slug)
    if builds.latest_version(statement) is not None:
        # Every version lists an organisation that has left: the rebuild is on its way.
        response = Response(
            render_template("public/pdf_rebuilding.html", statement=statement),
            status=503,
            mimetype="text/html",
        )
        response.headers["Retry-After"] = "60"
        return response
    abort(
        404,
        description="The PDF of this statement has not been generated yet. Please try again in a few minutes.",
    )


@bp.get("/statements/<slug>/versions")
def pdf_versions(slug: str):
    statement = statement_or_404(slug)
    etag = etag_for(
        "versions", public_state(statement), builds.versions_state(statement.id), builds.keep_days()
    )
    return public_page(
        etag,
        lambda: render_template(
            "public/versions.html",
            statement=statement,
            versions=builds.versions(statement),
            keep_days=builds.keep_days(),
        ),
    )


# <id:…> takes ASCII digits only (Werkzeug's <int:…> also takes "１") up to the database's
# 32-bit integer: anything else is a 404, never a 500.
@bp.get("/statements/<slug>/versions/<id:number>.pdf")
def pdf_version(slug: str, number: int):
    statement = statement_or_404(slug)
    version = builds.version_by_number(statement, number)
    if version is None:
        abort(404, description="There is no such version of the PDF.")
    if version.withdrawn_at is not None:
        # Out of public view (a delivered copy stays available in the staff console).
        return _gone(statement, version)
    return send_version(statement, version)
