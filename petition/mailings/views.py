"""The unsubscribe link of a mailing: GET shows one button, POST unsubscribes.

The POST is the one form of the site without a CSRF token: a mail client's one-click
unsubscribe (RFC 8058) posts `List-Unsubscribe=One-Click` with no page and no session, and
the link's token is the credential. It only ever stops mail to its own contact.
"""

from __future__ import annotations

from flask import render_template, request

from ..extensions import csrf, limiter
from . import bp
from . import service as mailings


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def unsubscribe(token: str):
    try:
        if request.method == "POST":
            row = mailings.unsubscribe(token)
            return render_template("mailings/unsubscribed.html", recipient=row)
        row = mailings.recipient_for_token(token)
    except mailings.TokenInvalid:
        return render_template("mailings/unsubscribe_invalid.html"), 404
    return render_template("mailings/unsubscribe.html", recipient=row, token=token)


csrf.exempt(unsubscribe)
