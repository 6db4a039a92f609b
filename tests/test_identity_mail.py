"""Every email is the campaign's: its sender, Reply-To and Message-ID domain, its name, logo and
contact address in both parts, a layout that fits a phone, and a SpamAssassin score below 1.0."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.test_identity import configure, png, upload
from tests.test_signing_mail_text import EVERY_KIND, _collect_every_kind, html_text

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")

SPAMASSASSIN = shutil.which("spamassassin")
SCORER = Path(__file__).parent / "data" / "spam_scores.pl"
RESULT = re.compile(r"^=== (\S+) (-?[\d.]+)$", re.M)


def spam_scores(messages: dict[str, bytes]) -> dict[str, tuple[float, str]]:
    """SpamAssassin's shipped rules, local tests only (no DNS or network look-ups), as
    `spamassassin -L -t` scores each message, with the rules loaded once for all of them."""
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for n, (name, raw) in enumerate(messages.items()):
            files[str(Path(tmp) / f"{n}.eml")] = name
            Path(tmp, f"{n}.eml").write_bytes(raw)
        done = subprocess.run(
            ["perl", str(SCORER), *files], capture_output=True, timeout=120, check=True
        )
    out = done.stdout.decode("utf-8", "replace")
    marks = list(RESULT.finditer(out))
    ends = [m.start() for m in marks[1:]] + [len(out)]
    reports = [out[m.end() : end] for m, end in zip(marks, ends, strict=True)]
    scores = {
        files[m.group(1)]: (float(m.group(2)), report.split("Content analysis details:")[-1])
        for m, report in zip(marks, reports, strict=True)
    }
    assert set(scores) == set(messages), out
    return scores


@pytest.fixture
def every_email(app, client, seeded, smtp):
    admin = configure(app)
    assert upload(admin, png(), "logo.png").status_code == 303
    by_kind = _collect_every_kind(app, client, seeded, smtp)
    assert set(by_kind) == EVERY_KIND
    by_kind.update(_staff_link_mails(app, smtp, admin, len(smtp.messages)))
    return by_kind


def _staff_link_mails(app, smtp, admin, before: int) -> dict:
    """The set-password mails: an invitation, and a reset asked for on the sign-in page."""
    from tests.staff_helpers import page_token, post

    assert (
        post(admin, "/staff/users", {"email": "new@example.org", "role": "admin"}).status_code
        == 303
    )
    visitor = app.test_client()
    token = page_token(visitor, "/staff/password/forgot")
    visitor.post("/staff/password/forgot", data={"email": "admin@example.org", "csrf_token": token})
    invite, reset = smtp.wait_for(before + 2)[before:]
    assert invite["To"] == "new@example.org" and reset["To"] == "admin@example.org"
    return {"staff_invite": invite, "staff_reset": reset}


@pytest.mark.config(MAIL_RESEND_INTERVAL_SECONDS=0)
def test_every_email_is_signed_by_the_campaign(every_email):
    for kind, message in every_email.items():
        assert message["From"] == "Regions for Recovery team <statement@regions-network.eu>", kind
        assert message["Reply-To"] == "team@regions-network.eu", kind
        assert message["Message-ID"].endswith("@regions-network.eu>"), kind
        plain = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        text = html_text(message)
        for part in (plain, text):
            assert "Regions for Recovery" in part, kind
            assert "Contact: hello@regions-network.eu" in " ".join(part.split()), kind
            assert "Innovation Regions Network AISBL" in part, kind
        # The plain part says what the HTML part says: every link of the one is in the other.
        hrefs = set(re.findall(r'href="([^"]+)"', html))
        missing = {h for h in hrefs if h.removeprefix("mailto:") not in plain}
        assert not missing, (kind, missing)
        # Fits a phone: a viewport, a fluid table, no fixed 600-pixel width.
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert 'width="600"' not in html and "max-width:600px" in html, kind
        # Named in text: an image in a short HTML mail costs 2-3 SpamAssassin points.
        assert "<img" not in html, kind
        # Only the staff digest is a subscription.
        if kind == "staff_digest":
            assert message["List-Unsubscribe"] == "<http://localhost/staff/account>"
        else:
            assert message["List-Unsubscribe"] is None, kind


@pytest.mark.config(
    MAIL_RESEND_INTERVAL_SECONDS=0,
    MAIL_DEFAULT_SENDER="Ops <ops@mail.example.net>",
    MAIL_REPLY_TO="desk@example.net",
)
def test_the_environment_overrides_the_console_sender_and_reply_to(every_email):
    for kind, message in every_email.items():
        assert message["From"] == "Ops <ops@mail.example.net>", kind
        assert message["Reply-To"] == "desk@example.net", kind
        assert message["Message-ID"].endswith("@mail.example.net>"), kind


@pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed (apt spamassassin)")
@pytest.mark.config(MAIL_RESEND_INTERVAL_SECONDS=0)
def test_spamassassin_scores_every_email_below_one(every_email):
    scores = spam_scores({kind: message.as_bytes() for kind, message in every_email.items()})
    too_high = {kind: report for kind, (score, report) in scores.items() if score >= 1.0}
    assert not too_high, "\n".join(f"{k}: {r}" for k, r in too_high.items())
