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


#: The headers every answer gets unless its view set them.
_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_NOT_FRAMED = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"), *_ALWAYS)
_FRAMEABLE = (("Content-Security-Policy", FRAMEABLE_CSP), *_ALWAYS)
_OPEN_DATA = (("Access-Control-Allow-Origin", "*"),)
#: Pages with tokens, forms or personal data must not linger in any cache; the public pages
#: say otherwise themselves (core/caching.py).
_PRIVATE = (("Cache-Control", "private, no-store"),)


def apply_security_headers(response: Response) -> Response:
    """The headers above, each where the response has none of that name: the names present are
    read once (every answer passes here; a lookup per header scanned them all each time)."""
    endpoint = request.endpoint
    wanted: tuple[tuple[str, str], ...] = (
        _FRAMEABLE
        if endpoint in FRAMEABLE_ENDPOINTS and response.status_code < 400
        else _NOT_FRAMED
    )
    if endpoint in OPEN_DATA_ENDPOINTS:
        wanted += _OPEN_DATA
    if response.mimetype == "text/html":
        wanted += _PRIVATE
    hsts = current_app.config["HSTS_MAX_AGE_SECONDS"]
    if hsts and request.is_secure:
        # is_secure sees X-Forwarded-Proto through ProxyFix (PROXY_FIX_HOPS) behind nginx.
        wanted += (("Strict-Transport-Security", f"max-age={hsts}"),)
    headers = response.headers
    present = set(headers.keys(lower=True))
    headers.extend([(name, value) for name, value in wanted if name.lower() not in present])
    return response
