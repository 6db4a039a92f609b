"""Withdrawal: an approved endorsement leaves the list and the PDF; signing again starts afresh."""

from __future__ import annotations

from sqlalchemy import select

from petition.extensions import db
from petition.models import PdfVersion, Signature, SignatureState, Statement
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


def test_signing_again_after_a_withdrawal_starts_with_no_dates_from_before(app, client, seeded):
    signature_id = sign_confirm_approve(
        app, client, seeded, organisation_name=NAME, email=EMAIL, website=""
    )
    _withdraw(app, client, EMAIL)
    before = _signature(app, signature_id)
    assert before.approved_at and before.withdrawn_at

    response = post_form(client, seeded, valid_form(organisation_name=NAME, email=EMAIL))
    assert response.status_code == 302
    again = _signature(app, signature_id)  # the same row, started over
    assert again.state == SignatureState.PENDING_EMAIL
    assert (again.verified_at, again.approved_at, again.withdrawn_at, again.decided_at) == (
        None,
        None,
        None,
        None,
    )

    confirm(app, client, EMAIL)
    result = app.test_cli_runner().invoke(args=["signatures", "approve", str(signature_id)])
    assert result.exit_code == 0, result.output
    wait_jobs(app)
    approved = _signature(app, signature_id)
    assert approved.withdrawn_at is None
    assert approved.approved_at > before.withdrawn_at
    listing = client.get(f"/statements/{seeded}/signatories.json").get_json()["signatories"]
    [entry] = [s for s in listing if s["organisation_name"] == NAME]
    assert entry["approved_at"] == approved.approved_at.isoformat()
