"""The session cookie (core/http.py CookieSessionInterface): signed as Flask signs it, written
without the zlib attempt, and every cookie Flask's own interface wrote still read."""

from __future__ import annotations

import pytest
from flask.sessions import SecureCookieSessionInterface

from tests.conftest import csrf_token, valid_form

SLUG = "interregional-innovation-investments"
CHECK = f"/statements/{SLUG}/sign/check-your-email"


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def stock_cookie(app, data: dict, key: str | None = None) -> str:
    """A cookie as Flask's stock interface writes it (zlib-compressed where that is shorter)."""
    current = app.secret_key
    app.secret_key = key or current
    try:
        return SecureCookieSessionInterface().get_signing_serializer(app).dumps(data)
    finally:
        app.secret_key = current


def test_a_sign_on_keeps_the_address_in_an_uncompressed_signed_cookie(app, client, seeded) -> None:
    email = "communications.office.communications@communications.lodzkie.pl"
    form = valid_form(csrf_token=csrf_token(client, f"/statements/{SLUG}/sign"), email=email)
    assert client.post(f"/statements/{SLUG}/sign", data=form).status_code == 302
    cookie = session_cookie(client)
    # Flask's own interface would have compressed this one (a leading '.'); this one does not.
    payload = SecureCookieSessionInterface().get_signing_serializer(app).loads(cookie)
    assert payload["submitted_email"] == email
    assert stock_cookie(app, payload).startswith(".")
    assert not cookie.startswith(".")
    assert email in client.get(CHECK).get_data(as_text=True)


def test_a_compressed_cookie_from_flasks_own_interface_still_reads(app, client, seeded) -> None:
    email = "a" * 120 + "@example.org"  # long and repetitive: deflate shortens it
    cookie = stock_cookie(app, {"submitted_email": email})
    assert cookie.startswith(".")
    client.set_cookie("session", cookie)
    assert email in client.get(CHECK).get_data(as_text=True)


@pytest.mark.config(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=["the-old-key"])
def test_a_cookie_signed_with_a_fallback_key_reads_and_is_resigned_with_the_new(
    app, client, seeded
) -> None:
    client.set_cookie(
        "session", stock_cookie(app, {"submitted_email": "x@example.org"}, "the-old-key")
    )
    assert "x@example.org" in client.get(CHECK).get_data(as_text=True)
    client.post(
        f"/statements/{SLUG}/sign",
        data=valid_form(csrf_token=csrf_token(client, f"/statements/{SLUG}/sign")),
    )
    resigned = session_cookie(client)
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer.loads(resigned)["submitted_email"]  # the new key alone verifies it


@pytest.mark.parametrize("forge", ["tampered", "unknown key"])
def test_a_forged_cookie_is_ignored(app, client, seeded, forge: str) -> None:
    if forge == "tampered":
        good = stock_cookie(app, {"submitted_email": "x@example.org"})
        cookie = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    else:
        cookie = stock_cookie(app, {"submitted_email": "x@example.org"}, "someone-elses-key")
    client.set_cookie("session", cookie)
    assert "x@example.org" not in client.get(CHECK).get_data(as_text=True)


def test_a_long_session_is_still_compressed(app) -> None:
    # Flashed messages that no page has shown yet pile up in the session: compressed, as Flask's
    # own serializer would, a walk through a dozen staff links stays well under a cookie's 4 KB.
    data = {"_flashes": [["message", "Please sign in to see this page."]] * 40}
    serializer = app.session_interface.get_signing_serializer(app)
    cookie = serializer.dumps(data)
    assert cookie.startswith(".") and len(cookie) < 400
    assert serializer.loads(cookie) == data
