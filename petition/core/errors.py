"""Error pages: every failure a browser or script can cause gets a clear 4xx page, or JSON for APIs."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, jsonify, make_response, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    RequestedRangeNotSatisfiable,
)

from . import identity
from .http import loggable_path
from .i18n import N_

log = logging.getLogger(__name__)

_TITLES = {
    400: N_("Bad request"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Method not allowed"),
    410: N_("No longer available"),
    413: N_("Request too large"),
    415: N_("Unsupported content"),
    422: N_("Please check the form"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
    503: N_("Please try again in a minute"),
}

# Seconds a client is asked to wait after an outage answer (the Retry-After header).
RETRY_AFTER_SECONDS = 60
# Fields never written back into a page: secrets a browser should not keep in the HTML.
_SECRET_FIELDS = ("password", "totp", "code", "secret")


def _wants_json() -> bool:
    return (
        request.path.endswith(".json")
        or request.path == "/healthz"
        or (request.accept_mimetypes.best == "application/json")
    )


def render_error(code: int, message: str):
    """The error page in the visitor's language (JSON in English, for programs)."""
    title = _TITLES.get(code, N_("Error"))
    if _wants_json():
        return jsonify({"error": title, "message": message, "status": code}), code
    return render_template(
        "error.html", code=code, title=gettext(title), message=gettext(message)
    ), code


def _outage(exc: BaseException) -> bool:
    """A database or Redis that cannot be reached right now (not a bug in a query)."""
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        return True
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _resendable_fields() -> list[tuple[str, str]]:
    """What a form POST carried, to offer it again from the outage page (never secrets)."""
    if request.method != "POST" or not request.form:
        return []
    fields = list(request.form.items(multi=True))
    if any(any(word in name.lower() for word in _SECRET_FIELDS) for name, _ in fields):
        return []
    return fields


def render_unavailable():
    """503 + Retry-After: a temporary outage, told as such; a form POST can be sent again as is."""
    # The broken session is discarded when the app context ends (Flask-SQLAlchemy removes it);
    # this page touches no database.
    fields = _resendable_fields()
    if request.method == "POST":
        message = N_(
            "This site could not reach its database just now, so nothing you sent was saved. "
            "Please try again in a minute."
        )
    else:
        message = N_(
            "This site could not reach its database just now. Please try again in a minute."
        )
    body: Response | str
    if _wants_json():
        body = jsonify({"error": _TITLES[503], "message": message, "status": 503, "saved": False})
    else:
        # Rendered without the context processors: one of them loads the signed-in staff
        # account, which needs the very database that is unreachable.
        body = current_app.jinja_env.get_template("unavailable.html").render(
            code=503,
            title=gettext(_TITLES[503]),
            message=gettext(message),
            fields=fields,
            action=request.path,
            posted=request.method == "POST",
            campaign=identity.last_known(),
        )
    response = make_response(body, 503)
    g.outage_retry_after = str(RETRY_AFTER_SECONDS)
    response.headers["Retry-After"] = g.outage_retry_after
    response.headers["Cache-Control"] = "no-store"
    return response


def _keep_outage_retry_after(response: Response) -> Response:
    """The rate limiter stamps its own window's reset as Retry-After; an outage's stands."""
    retry_after = g.get("outage_retry_after")
    if retry_after and response.status_code == 503:
        response.headers["Retry-After"] = retry_after
    return response


def register_error_handlers(app: Flask) -> None:
    # First in the list, so run last (Flask runs after-request functions in reverse order).
    app.after_request_funcs.setdefault(None, []).insert(0, _keep_outage_retry_after)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_error(
            400,
            N_(
                "This form has expired or was not sent from this site. Go back, reload the "
                "page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 304 or exc.code is None:
            return exc
        if isinstance(exc, RequestedRangeNotSatisfiable):
            # No page: the answer says what there is (Content-Range: bytes */SIZE), which the
            # site's error page would drop.
            response = Response(status=416)
            if exc.length is not None:
                response.headers["Content-Range"] = f"{exc.units} */{exc.length}"
            return response
        message = exc.description or ""
        if exc.code == 413:
            message = N_("What was sent is larger than this site accepts.")
        elif exc.code == 429:
            message = N_(
                "Too many attempts from your network. Please wait a few minutes and try again."
            )
        elif exc.code == 404 and "requested URL was not found" in message:
            message = N_("There is nothing at this address.")
        response = render_error(exc.code, message)
        if isinstance(exc, MethodNotAllowed) and exc.response is None:
            resp, code = response
            resp = app.make_response((resp, code))
            resp.headers["Allow"] = ", ".join(exc.valid_methods or [])
            return resp
        return response

    @app.errorhandler(UnicodeDecodeError)
    def bad_encoding(exc: UnicodeDecodeError):
        return render_error(400, N_("What was sent is not valid UTF-8 text."))

    @app.errorhandler(DBAPIError)
    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def service_unavailable(exc: Exception):
        if not _outage(exc):
            raise exc  # a genuine bug: the 500 handler logs it with its traceback
        log.warning(
            "outage on %s %s: %s answered 503",
            request.method,
            loggable_path(),
            type(exc).__name__,
        )
        return render_unavailable()

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        log.error(
            "unhandled error on %s %s",
            request.method,
            loggable_path(),
            exc_info=exc.original_exception,
        )
        return render_error(500, N_("An unexpected error occurred. It has been logged."))
