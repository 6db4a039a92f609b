"""Mail a stranger's form submission triggers goes to one recipient domain at most
MAIL_DOMAIN_HOURLY_LIMIT times in any hour: more is deferred (never dropped) and sent when the
window frees; the sign-up is stored as usual; staff mail and other domains are not held back."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from petition.core import outbox
from petition.core.audit import Actor
from petition.core.db import transaction
from petition.extensions import db
from petition.models import OutboxMessage, OutboxStatus, Signature, utcnow
from petition.moderation import service as moderation
from tests.conftest import csrf_token, submit_sign, wait_jobs
from tests.staff_helpers import make_signature

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")

# Subdomains count as the domain they belong to (its registrable domain).
VICTIMS = [
    "ana@victim.example",
    "ben@victim.example",
    "cleo@mail.victim.example",
    "dan@victim.example",
    "eva@VICTIM.example",
]
OTHERS = ["olga@other.example", "piet@other.example"]


def _rows(app, domain: str) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.capped_domain == domain)
                .order_by(OutboxMessage.id)
            )
        )
        db.session.expunge_all()
        return rows


def _victim_mail(smtp) -> list[str]:
    return sorted(m["To"].lower() for m in smtp.messages if "victim.example" in m["To"].lower())


@pytest.mark.config(MAIL_DOMAIN_HOURLY_LIMIT=3)
def test_mail_beyond_the_hourly_limit_per_domain_is_deferred_then_sent(
    app, client, seeded, smtp, caplog
):
    caplog.set_level(logging.INFO)
    started = utcnow()
    for index, email in enumerate(VICTIMS + OTHERS):
        response = submit_sign(client, seeded, email=email, organisation_name=f"Org {index}")
        # Stored as usual, and the signer sees the usual page.
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/sign/check-your-email")
    # The lost-link form, a sixth mail to the domain within the hour: deferred as well.
    url = f"/statements/{seeded}/withdraw-link"
    client.post(url, data={"email": VICTIMS[0], "csrf_token": csrf_token(client, url)})
    wait_jobs(app)
    with app.app_context():
        stored = select(func.count(Signature.id)).where(
            Signature.email_normalised.in_([e.lower() for e in VICTIMS + OTHERS])
        )
        assert db.session.scalar(stored) == 7

    smtp.wait_for(5)
    assert _victim_mail(smtp) == sorted(e.lower() for e in VICTIMS[:3])
    assert sorted(m["To"] for m in smtp.to("other.example")) == OTHERS
    rows = _rows(app, "victim.example")
    assert [r.kind for r in rows] == ["confirm"] * 5 + ["manage_link"]
    deferred = [r for r in rows if r.status == OutboxStatus.QUEUED]
    assert [r.to_address.lower() for r in deferred] == [
        e.lower() for e in (*VICTIMS[3:], VICTIMS[0])
    ]
    # Each waits until an hour after the mail whose place it takes.
    for waiting, earlier in zip(deferred, rows[:3], strict=True):
        assert waiting.next_attempt_at == earlier.next_attempt_at + timedelta(hours=1)
        assert waiting.attempts == 0

    # Logged once, without the address.
    deferral_logs = [r.getMessage() for r in caplog.records if "deferred" in r.getMessage()]
    assert len(deferral_logs) == 1 and "victim.example" in deferral_logs[0]
    assert not any("@" in r.getMessage() for r in caplog.records if r.name.startswith("petition"))

    # Staff mail to the same domain is not held back.
    approved_id = make_signature(app, seeded, name="Approved Org", email="fay@victim.example")
    with app.app_context():
        moderation.decide(approved_id, "approve", Actor.cli("test"))
    wait_jobs(app)
    assert "fay@victim.example" in _victim_mail(smtp)

    # Within the hour, nothing more goes; once the window moves on, the deferred mail does.
    with app.app_context():
        assert outbox.send_due(now=started + timedelta(minutes=59))["sent"] == 0
        assert len(_victim_mail(smtp)) == 4
        result = outbox.send_due(now=utcnow() + timedelta(hours=1, seconds=1))
    assert result["sent"] == 3
    smtp.wait_for(9)
    assert _victim_mail(smtp) == sorted(
        [e.lower() for e in VICTIMS] + [VICTIMS[0], "fay@victim.example"]
    )
    assert all(r.status == OutboxStatus.SENT for r in _rows(app, "victim.example"))


@pytest.mark.config(MAIL_DOMAIN_HOURLY_LIMIT=0)
def test_a_limit_of_zero_caps_nothing(app, client, seeded, smtp):
    for index, email in enumerate(VICTIMS):
        assert (
            submit_sign(client, seeded, email=email, organisation_name=f"Org {index}").status_code
            == 302
        )
    wait_jobs(app)
    smtp.wait_for(5)
    assert len(_victim_mail(smtp)) == 5


def test_the_cap_counts_the_hour_before_now_only(app, seeded, smtp, caplog):
    """Slots from more than an hour ago leave room: a cap is per rolling hour, not for ever."""
    caplog.set_level(logging.INFO)
    app.config["MAIL_DOMAIN_HOURLY_LIMIT"] = 2
    long_ago = utcnow() - timedelta(hours=1, minutes=1)
    with app.app_context():
        for index in range(2):
            db.session.add(
                OutboxMessage(
                    kind="confirm",
                    to_address=f"old{index}@victim.example",
                    subject="s",
                    body_text="b",
                    status=OutboxStatus.SENT,
                    next_attempt_at=long_ago,
                    capped_domain="victim.example",
                )
            )
        db.session.commit()
        now = utcnow()
        assert outbox._domain_slot("victim.example", now) == now
        assert outbox._domain_slot("other.example", now) == now
    assert not [r for r in caplog.records if "deferred" in r.getMessage()]


def test_simultaneous_submissions_at_one_domain_share_the_hour(app, seeded):
    """Six transactions queue mail to one domain at once (each still open while the others
    count): exactly the limit goes now, on PostgreSQL as on SQLite."""
    app.config["MAIL_DOMAIN_HOURLY_LIMIT"] = 3
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def submit(index: int) -> None:
        try:
            with app.app_context():
                start.wait(timeout=10)
                with transaction("test"):
                    outbox.queue_email(
                        "confirm",
                        f"p{index}@victim.example",
                        "staff_digest",
                        cap_per_domain=True,
                        new_count=0,
                        new_items=[],
                        more=0,
                        waiting_total=0,
                        oldest=None,
                        queue_url="",
                        account_url="",
                    )
                    time.sleep(0.3)  # the row is not committed yet while the others count
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    rows = _rows(app, "victim.example")
    first = min(r.next_attempt_at for r in rows)
    now_rows = [r for r in rows if r.next_attempt_at < first + timedelta(minutes=5)]
    later = [r for r in rows if r.next_attempt_at >= first + timedelta(hours=1)]
    assert (len(now_rows), len(later)) == (3, 3)
