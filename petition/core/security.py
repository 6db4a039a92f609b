"""Security headers on every response: no third-party origins, no framing, no sniffing, and
https only once a browser has seen the site over https."""

from __future__ import annotations

from flask import Response, current_app, request

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: The one page other sites may frame (a counter with a Sign button that opens a new tab): any
#: ancestor, and nothing else relaxed. By endpoint, so that a page answered from the page cache
#: before its view runs gets the same headers.
FRAMEABLE_ENDPOINTS = frozenset({"statements.embed"})
FRAMEABLE_CSP = CSP.replace("frame-ancestors 'none'", "frame-ancestors *")
#: Open data any site may read from its own pages' scripts. By endpoint as above: a 304 and a
#: page answered from the page cache carry it too.
OPEN_DATA_ENDPOINTS = frozenset(
    {"signatories.signatories_json", "signatories.signatories_csv", "statements.count_json"}
)


def apply_security_headers(response: Response) -> Response:
    headers = response.headers
    if request.endpoint in FRAMEABLE_ENDPOINTS and response.status_code < 400:
        headers.setdefault("Content-Security-Policy", FRAMEABLE_CSP)
    else:
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint in OPEN_DATA_ENDPOINTS:
        headers.setdefault("Access-Control-Allow-Origin", "*")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure and current_app.config["HSTS_MAX_AGE_SECONDS"]:
        # is_secure sees X-Forwarded-Proto through ProxyFix (PROXY_FIX_HOPS) behind nginx.
        headers.setdefault(
            "Strict-Transport-Security", f"max-age={current_app.config['HSTS_MAX_AGE_SECONDS']}"
        )
    if response.mimetype == "text/html":
        # Pages with tokens, forms or personal data must not linger in any cache; the public
        # pages say otherwise themselves (core/caching.py).
        headers.setdefault("Cache-Control", "private, no-store")
    return response
