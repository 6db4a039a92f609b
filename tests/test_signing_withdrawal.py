"""Withdrawal: an approved endorsement leaves the list and the PDF; signing again starts afresh."""

from __future__ import annotations

from sqlalchemy import func, select

from petition.extensions import db
from petition.models import (
    AuditEvent,
    OutboxMessage,
    PdfVersion,
    Signature,
    SignatureState,
    Statement,
)
from tests.conftest import valid_form, wait_jobs
from tests.flows import (
    confirm,
    manage_link,
    post_form,
    sign_confirm_approve,
    withdraw_by_manage_link,
)
from tests.pdf_helpers import latest_pdf, pdf_text

NAME = "Withdrawn Before Long Ltd"
EMAIL = "press@withdrawn.example.org"


def _signature(app, signature_id: int) -> Signature:
    with app.app_context():
        signature = db.session.get(Signature, signature_id)
        db.session.expunge(signature)
        return signature


def _list_version(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Statement.list_version).where(Statement.slug == slug))


def _versions(app) -> list[tuple[int, int]]:
    with app.app_context():
        return list(
            db.session.execute(
                select(PdfVersion.number, PdfVersion.signatory_count).order_by(PdfVersion.number)
            )
        )


def _withdraw(app, client, email: str) -> None:
    done = withdraw_by_manage_link(client, manage_link(app, email))
    assert "The endorsement is withdrawn" in done.get_data(as_text=True)


def test_withdrawing_an_approved_endorsement_changes_the_list_and_rebuilds_the_pdf(
    app, client, seeded, tmp_path
):
    signature_id = sign_confirm_approve(
        app, client, seeded, organisation_name=NAME, email=EMAIL, website=""
    )
    assert NAME in pdf_text(latest_pdf(client), tmp_path)
    list_version = _list_version(app, seeded)
    builds = _versions(app)
    assert builds[-1][1] == 5

    _withdraw(app, client, EMAIL)
    wait_jobs(app)

    assert _signature(app, signature_id).state == SignatureState.WITHDRAWN
    assert _list_version(app, seeded) == list_version + 1
    assert _versions(app) == [*builds, (builds[-1][0] + 1, 4)]  # exactly one new build
    assert NAME not in pdf_text(latest_pdf(client), tmp_path)


def test_withdrawing_an_endorsement_not_yet_public_leaves_the_list_alone(app, client, seeded):
    post_form(client, seeded, valid_form(organisation_name=NAME, email=EMAIL, website=""))
    signature_id = confirm(app, client, EMAIL)  # verified, waiting for moderation
    list_version = _list_version(app, seeded)
    builds = _versions(app)

    _withdraw(app, client, EMAIL)
    wait_jobs(app)

    assert _signature(app, signature_id).state == SignatureState.WITHDRAWN
    assert _list_version(app, seeded) == list_version
    assert _versions(app) == builds


def _row(app, signature_id: int) -> dict:
    with app.app_context():
        return dict(
            db.session.execute(select(Signature.__table__).where(Signature.id == signature_id))
            .one()
            ._mapping
        )


def test_signing_again_after_a_withdrawal_starts_with_no_dates_from_before(app, client, seeded):
    signature_id = sign_confirm_approve(
        app, client, seeded, organisation_name=NAME, email=EMAIL, website=""
    )
    _withdraw(app, client, EMAIL)
    before = _signature(app, signature_id)
    assert before.approved_at and before.withdrawn_at

    response = post_form(client, seeded, valid_form(organisation_name=NAME, email=EMAIL))
    assert response.status_code == 302
    # Withdrawn until the stored address confirms: the mailed link endorses again.
    assert _signature(app, signature_id).state == SignatureState.WITHDRAWN
    confirm(app, client, EMAIL)
    again = _signature(app, signature_id)  # the same row, started over
    assert again.state == SignatureState.VERIFIED
    assert (again.approved_at, again.withdrawn_at, again.decided_at) == (None, None, None)
    assert again.verified_at > before.withdrawn_at and again.consent_at > before.withdrawn_at

    result = app.test_cli_runner().invoke(args=["signatures", "approve", str(signature_id)])
    assert result.exit_code == 0, result.output
    wait_jobs(app)
    approved = _signature(app, signature_id)
    assert approved.withdrawn_at is None
    assert approved.approved_at > before.withdrawn_at
    listing = client.get(f"/statements/{seeded}/signatories.json").get_json()["signatories"]
    [entry] = [s for s in listing if s["organisation_name"] == NAME]
    assert entry["approved_at"] == approved.approved_at.isoformat()


def test_a_resubmission_of_a_withdrawn_address_changes_nothing_until_its_link_is_used(
    app, client, seeded
):
    """Whoever knows the address can submit it: a withdrawn endorsement keeps its details and
    its withdrawal; only the stored address's link endorses again, with the stored details."""
    signature_id = sign_confirm_approve(
        app, client, seeded, organisation_name=NAME, email=EMAIL, website=""
    )
    _withdraw(app, client, EMAIL)
    stored = _row(app, signature_id)

    attacker = app.test_client()
    response = post_form(
        attacker,
        seeded,
        valid_form(
            email=EMAIL.upper(),
            organisation_name="Attacker Holdings",
            contact_name="Mallory",
            country="DE",
            comment="Not what they wrote",
        ),
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/check-your-email")
    after = _row(app, signature_id)
    changed = {k for k in stored if stored[k] != after[k]}
    assert changed <= {"last_confirmation_sent_at", "updated_at"}, changed
    assert after["state"] == SignatureState.WITHDRAWN and after["withdrawn_at"]
    # The stored address is told, with the stored details; the typed ones are nowhere.
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.to_address == EMAIL, OutboxMessage.kind == "confirm")
            .order_by(OutboxMessage.id.desc())
        )
    assert NAME in body and "Attacker" not in body and "Mallory" not in body
    # A second submission within the resend interval mails nothing more.
    post_form(attacker, seeded, valid_form(email=EMAIL, organisation_name="Attacker Again"))
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.to_address == EMAIL, OutboxMessage.kind == "confirm"
                )
            )
            == 2  # the first sign-up's, and this one
        )
    # Retention never takes it for an unconfirmed sign-up: it is still withdrawn.
    assert _signature(app, signature_id).state == SignatureState.WITHDRAWN
    # The owner's click endorses again with what they gave, not the attacker's details.
    confirm(app, client, EMAIL)
    again = _signature(app, signature_id)
    assert again.state == SignatureState.VERIFIED
    assert (again.organisation_name, again.contact_name) == (NAME, stored["contact_name"])
    # The withdrawal stays on record.
    with app.app_context():
        actions = list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.signature_id == signature_id)
                .order_by(AuditEvent.id)
            )
        )
    assert actions[-3:] == ["withdrawn", "confirmation_resent", "confirmed"]


def test_a_link_from_before_the_withdrawal_does_not_endorse_again(app, client, seeded):
    from tests.conftest import csrf_token
    from tests.flows import confirm_link

    post_form(client, seeded, valid_form(organisation_name=NAME, email=EMAIL, website=""))
    old_link = confirm_link(app, EMAIL)
    _withdraw(app, client, EMAIL)
    assert client.get(old_link).status_code == 200  # "already withdrawn", no button
    token = csrf_token(client, f"/statements/{seeded}/sign")
    client.post(old_link, data={"csrf_token": token})
    with app.app_context():
        row = db.session.scalar(select(Signature).where(Signature.email == EMAIL))
        assert row.state == SignatureState.WITHDRAWN
