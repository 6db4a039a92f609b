"""Serving the statement PDF and its earlier versions: cached files, never generated per request."""

from __future__ import annotations

from flask import Response, abort, render_template, request, send_file
from werkzeug.http import is_resource_modified

from ..statements.service import StatementNotFound, get_statement
from . import bp, builds


def _statement_or_404(slug: str):
    try:
        return get_statement(slug)
    except StatementNotFound:
        abort(404, description="There is no statement at this address.")


def _cache_headers(response: Response, version) -> Response:
    response.headers["Cache-Control"] = "public, max-age=60, must-revalidate"
    response.headers["X-Content-SHA256"] = version.file_sha256
    return response


def _send_version(statement, version):
    # A revalidation (most requests from returning readers and caches) needs no file at all.
    if request.method in ("GET", "HEAD") and not is_resource_modified(
        request.environ, etag=version.file_sha256, last_modified=version.created_at
    ):
        response = Response(status=304)
        response.set_etag(version.file_sha256)
        response.last_modified = version.created_at
        return _cache_headers(response, version)
    path = builds.file_path(version)
    if not path.is_file():
        abort(404, description="This version of the PDF is no longer stored.")
    # conditional=True gives If-None-Match / If-Modified-Since → 304, HEAD and byte ranges.
    response = send_file(
        path,
        mimetype="application/pdf",
        as_attachment=False,
        download_name=builds.download_name(statement, version),
        conditional=True,
        etag=version.file_sha256,
        last_modified=version.created_at,
        max_age=60,
    )
    return _cache_headers(response, version)


@bp.get("/statements/<slug>/statement.pdf")
def statement_pdf(slug: str):
    # The hot path: one indexed query for the newest build, then the file from disk.
    found = builds.latest_version_by_slug(slug)
    if found is not None:
        return _send_version(*found)
    statement = _statement_or_404(slug)
    version = builds.latest_version(statement)
    if version is None:
        abort(
            404,
            description="The PDF of this statement has not been generated yet. Please try again in a few minutes.",
        )
    return _send_version(statement, version)


@bp.get("/statements/<slug>/versions")
def pdf_versions(slug: str):
    statement = _statement_or_404(slug)
    return render_template(
        "public/versions.html", statement=statement, versions=builds.versions(statement)
    )


# Bounded like every id in a URL: a larger number would overflow the database integer (500).
@bp.get("/statements/<slug>/versions/<int(max=2147483647):number>.pdf")
def pdf_version(slug: str, number: int):
    statement = _statement_or_404(slug)
    version = builds.version_by_number(statement, number)
    if version is None:
        abort(404, description="There is no such version of the PDF.")
    return _send_version(statement, version)
