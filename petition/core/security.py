"""Security headers on every response: no third-party origins, no framing, no sniffing, and
https only once a browser has seen the site over https."""

from __future__ import annotations

from flask import Response, current_app, request

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def apply_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
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
