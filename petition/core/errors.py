"""Error pages: every failure a browser or script can cause gets a clear 4xx page, or JSON for APIs."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .http import loggable_path

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    410: "No longer available",
    413: "Request too large",
    415: "Unsupported content",
    422: "Please check the form",
    429: "Too many requests",
    500: "Something went wrong",
}


def _wants_json() -> bool:
    return (
        request.path.endswith(".json")
        or request.path == "/healthz"
        or (request.accept_mimetypes.best == "application/json")
    )


def render_error(code: int, message: str):
    title = _TITLES.get(code, "Error")
    if _wants_json():
        return jsonify({"error": title, "message": message, "status": code}), code
    return render_template("error.html", code=code, title=title, message=message), code


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_error(
            400,
            "This form has expired or was not sent from this site. Go back, reload the page "
            "and try again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 304 or exc.code is None:
            return exc
        message = exc.description or ""
        if exc.code == 413:
            message = "What was sent is larger than this site accepts."
        elif exc.code == 429:
            message = (
                "Too many attempts from your network. Please wait a few minutes and try again."
            )
        elif exc.code == 404 and "requested URL was not found" in message:
            message = "There is nothing at this address."
        response = render_error(exc.code, message)
        if exc.code == 405 and exc.response is None:
            resp, code = response
            resp = app.make_response((resp, code))
            resp.headers["Allow"] = ", ".join(exc.valid_methods or [])
            return resp
        return response

    @app.errorhandler(UnicodeDecodeError)
    def bad_encoding(exc: UnicodeDecodeError):
        return render_error(400, "What was sent is not valid UTF-8 text.")

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        log.error(
            "unhandled error on %s %s",
            request.method,
            loggable_path(),
            exc_info=exc.original_exception,
        )
        return render_error(500, "An unexpected error occurred. It has been logged.")
