"""Earlier PDF versions that list an organisation which left the list leave public view (issue 15.4)."""

from __future__ import annotations

from sqlalchemy import select

from petition.core.audit import Actor
from petition.extensions import db
from petition.models import PdfVersion, Signature, Statement
from petition.moderation import service as moderation
from petition.pdf import builds
from tests.conftest import wait_jobs
from tests.pdf_helpers import SLUG, add_verified, approve, fetch, latest_pdf, pdf_text, versions
from tests.staff_helpers import post, signed_in


def _withdraw(app, signature_id: int) -> None:
    from petition.signing.service import withdraw

    with app.app_context():
        withdraw(db.session.get(Signature, signature_id), Actor.cli())


def _public_status(client, number: int) -> int:
    return fetch(client, f"/statements/{SLUG}/versions/{number}.pdf").status_code


def test_a_withdrawal_takes_every_version_that_lists_it_out_of_public_view(
    app, client, seeded, tmp_path
):
    leaver = add_verified(app, "Leaving Laboratories")
    approve(app, leaver)
    wait_jobs(app)
    approve(app, add_verified(app, "Staying Studios"))
    wait_jobs(app)
    # 1: founders only; 2: + Leaving; 3: + Staying.
    assert [v.signatory_count for v in versions(app)] == [4, 5, 6]
    assert "Leaving Laboratories" in pdf_text(
        fetch(client, f"/statements/{SLUG}/versions/2.pdf").data, tmp_path
    )

    _withdraw(app, leaver)
    # Out of view at once, before any rebuild.
    assert _public_status(client, 2) == 410
    assert _public_status(client, 3) == 410
    assert _public_status(client, 1) == 200  # never listed it
    wait_jobs(app)
    first, second, third, fourth = versions(app)
    assert second.withdrawn_at and third.withdrawn_at
    assert first.withdrawn_at is None and fourth.withdrawn_at is None
    gone = fetch(client, f"/statements/{SLUG}/versions/2.pdf")
    body = gone.get_data(as_text=True)
    assert gone.mimetype == "text/html"
    assert "withdrawn from publication because a signatory withdrew" in body
    assert second.file_sha256 in body  # its record stays
    assert "Leaving Laboratories" not in body
    # The list page keeps the row (date, count, SHA-256), says why, and links no file.
    page = client.get(f"/statements/{SLUG}/versions").get_data(as_text=True)
    assert page.count("Withdrawn from publication because a signatory withdrew") == 2
    for version in (second, third):
        assert version.file_sha256 in page
        assert f"/statements/{SLUG}/versions/{version.number}.pdf" not in page
    assert f"/statements/{SLUG}/versions/4.pdf" in page
    # The served PDF is the new one, without the organisation.
    text = pdf_text(latest_pdf(client), tmp_path)
    assert "Staying Studios" in text and "Leaving Laboratories" not in text


def test_unpublishing_also_withdraws_versions_and_the_current_pdf_waits_for_its_rebuild(
    app, client, seeded
):
    removed = add_verified(app, "Unpublished Unlimited")
    approve(app, removed)
    wait_jobs(app)
    assert _public_status(client, 2) == 200
    with events_muted():  # hold the rebuild back: what does statement.pdf serve meanwhile?
        with app.app_context():
            moderation.decide(removed, "unpublish", Actor.cli(), reason="spam", notify=False)
            builds.withdraw_departed_versions(
                db.session.scalar(select(Signature.statement_id).limit(1))
            )
    assert _public_status(client, 2) == 410
    # statement.pdf never serves a withdrawn version: the newest one still public instead.
    served = fetch(client, f"/statements/{SLUG}/statement.pdf")
    assert served.status_code == 200
    assert served.headers["ETag"] == f'"{versions(app)[0].file_sha256}"'
    with app.app_context():
        assert SLUG in builds.stale_pdfs()  # /healthz says degraded until the rebuild


def events_muted():
    from petition.core import events

    return events.list_changed.muted()


def test_a_delivered_version_stays_downloadable_by_staff_only(app, client, seeded):
    leaver = add_verified(app, "Delivered Dynamics")
    approve(app, leaver)
    wait_jobs(app)
    staff = signed_in(app, "admin@example.org", "admin")
    delivery = {"delivered": "1", "delivered_on": "2026-11-30", "delivered_to": "DG REGIO"}
    response = post(staff, "/staff/pdf/1/versions/2/delivered", data=delivery)
    assert response.status_code == 303
    assert (
        post(staff, "/staff/pdf/1/versions/2/delivered", data={"delivered": "x"}).status_code == 400
    )
    assert post(staff, "/staff/pdf/1/versions/99/delivered", data=delivery).status_code == 404
    before = fetch(client, f"/statements/{SLUG}/versions/2.pdf").data

    _withdraw(app, leaver)
    wait_jobs(app)
    assert _public_status(client, 2) == 410
    # Staff still download it, never cached by a shared cache.
    download = fetch(staff, "/staff/pdf/1/versions/2.pdf")
    assert download.status_code == 200
    assert download.data == before
    assert download.headers["Cache-Control"] == "private, no-store"
    # Withdrawn and never delivered: nobody.
    approve(app, other := add_verified(app, "Undelivered Utilities"))
    wait_jobs(app)
    number = versions(app)[-1].number
    _withdraw(app, other)
    wait_jobs(app)
    assert _public_status(client, number) == 410
    assert fetch(staff, f"/staff/pdf/1/versions/{number}.pdf").status_code == 410
    # The anonymous public cannot reach the staff route.
    assert fetch(client, "/staff/pdf/1/versions/2.pdf").status_code == 302
    page = staff.get("/staff/pdf").get_data(as_text=True)
    assert "Withdrawn from publication" in page and "Delivered" in page
    # Retention drops the bytes of withdrawn versions nobody may download, keeps delivered ones.
    with app.app_context():
        builds.prune_versions()
        states = {
            v.number: v.file_state.value
            for v in db.session.scalars(select(PdfVersion).order_by(PdfVersion.number))
        }
    assert states[2] == "stored" and states[number] == "pruned"
    assert fetch(staff, "/staff/pdf/1/versions/2.pdf").status_code == 200


def test_versions_built_while_the_organisation_left_are_withdrawn_too(app, client, seeded):
    """A build that read the list just before the withdrawal publishes after it."""
    import threading

    from petition.pdf import layout as pdf_package

    leaver = add_verified(app, "Racing Robotics")
    approve(app, leaver)
    wait_jobs(app)
    real_render = pdf_package.render_statement_pdf
    started, release = threading.Event(), threading.Event()

    def slow(*args, **kwargs):
        started.set()
        assert release.wait(10)
        return real_render(*args, **kwargs)

    pdf_package.render_statement_pdf = slow
    try:
        with app.app_context():
            builds.request_rebuild(1, "staff", delay=0, force=True)
        assert started.wait(10)
        _withdraw(app, leaver)  # while the forced build renders a list that still has it
        release.set()
        wait_jobs(app)
    finally:
        pdf_package.render_statement_pdf = real_render
    listing = [v for v in versions(app) if v.signatory_count == 5]
    assert len(listing) >= 2
    assert all(v.withdrawn_at is not None for v in listing)
    assert versions(app)[-1].signatory_count == 4 and versions(app)[-1].withdrawn_at is None


def test_shared_caches_ask_before_serving_any_version_again(app, client, seeded):
    """nginx or a CDN may keep a version's bytes but must ask the application each time (a 304
    costs no file), so that a version is out of public view the moment it lists a departed
    organisation, not a cache lifetime later; a reader's own browser keeps it a minute."""
    leaver = add_verified(app, "Cached Components")
    approve(app, leaver)
    wait_jobs(app)
    for path in (f"/statements/{SLUG}/versions/2.pdf", f"/statements/{SLUG}/statement.pdf"):
        served = fetch(client, path)
        assert served.status_code == 200
        directives = {d.strip() for d in served.headers["Cache-Control"].split(",")}
        assert {"public", "s-maxage=0", "must-revalidate"} <= directives, directives
        revalidated = client.get(path, headers={"If-None-Match": served.headers["ETag"]})
        assert revalidated.status_code == 304 and revalidated.data == b""
    _withdraw(app, leaver)
    wait_jobs(app)
    assert _public_status(client, 2) == 410


def test_a_closed_statements_pdf_that_lists_a_departed_organisation_is_reported(
    app, client, seeded
):
    leaver = add_verified(app, "Closed Chapter Consulting")
    approve(app, leaver)
    wait_jobs(app)
    with app.app_context():
        statement = db.session.scalar(select(Statement).where(Statement.slug == SLUG))
        statement.is_open = False  # signing has closed; the list and its PDF stay public
        db.session.commit()
    with events_muted():  # the rebuild held back, as by a worker that is down
        with app.app_context():
            moderation.decide(leaver, "unpublish", Actor.cli(), reason="asked", notify=False)
            builds.withdraw_departed_versions(
                db.session.scalar(select(Statement.id).where(Statement.slug == SLUG))
            )
    with app.app_context():
        assert SLUG in builds.stale_pdfs()  # /healthz says degraded until the rebuild
