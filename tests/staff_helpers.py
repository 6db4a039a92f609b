"""Helpers for the staff console tests: accounts, sign-in, crafted signatures, form posts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from petition.core.audit import Actor
from petition.core.validation import derived_columns
from petition.extensions import db
from petition.models import (
    AuditEvent,
    OrganisationType,
    Signature,
    SignatureState,
    Statement,
    utcnow,
)
from petition.staff import accounts
from tests.conftest import CSRF_RE

PASSWORD = "correct horse battery staple"


def sign_in_page(page, base: str, email: str, password: str = PASSWORD) -> None:
    """In Chromium (a Playwright page): the staff sign-in form filled and sent, on the dashboard."""
    page.goto(f"{base}/staff/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"{base}/staff/")


def make_staff(app, email: str, role: str = "moderator", password: str = PASSWORD) -> int:
    with app.app_context():
        return accounts.create_staff(email, password, role, Actor.cli("test")).id


def page_token(client, url: str = "/staff/login") -> str:
    match = CSRF_RE.search(client.get(url).get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def login(client, email: str, password: str = PASSWORD):
    return client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf_token": page_token(client)},
    )


def signed_in(app, email: str, role: str = "moderator"):
    """A test client signed in as a new staff member of that role."""
    make_staff(app, email, role)
    client = app.test_client()
    response = login(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def post(client, url: str, data: dict | None = None, token_from: str = "/staff/account"):
    """POST as a browser would: with the CSRF token of the signed-in session."""
    payload = dict(data or {})
    payload.setdefault("csrf_token", page_token(client, token_from))
    return client.post(url, data=payload)


def statement_id(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Statement.id).where(Statement.slug == slug))


def make_signature(
    app,
    slug: str,
    *,
    name: str = "Łódzkie Region",
    email: str | None = "anna.nowak@lodzkie.pl",
    website: str = "https://www.lodzkie.pl",
    country: str = "PL",
    org_type: str = "region",
    state: SignatureState = SignatureState.VERIFIED,
    comment: str = "",
    contact_name: str = "Anna Nowak",
    ip: str = "192.0.2.10",
    created_at: datetime | None = None,
    city: str = "Łódź",
) -> int:
    """A signature as the signing flow leaves it, without the email round trip."""
    with app.app_context():
        statement = db.session.scalar(select(Statement).where(Statement.slug == slug))
        kind = OrganisationType(org_type)
        now = created_at or utcnow()
        sig = Signature(
            statement_id=statement.id,
            statement_version_id=statement.current_version_id,
            state=state,
            organisation_name=name,
            organisation_type=kind,
            country=country,
            city=city,
            **derived_columns(name, kind, country, city),
            website=website,
            comment=comment,
            contact_name=contact_name,
            contact_role="Officer",
            email=email,
            email_normalised=email.lower() if email else None,
            submitted_ip=ip,
            created_at=now,
            verified_at=min(now + timedelta(minutes=5), utcnow())
            if state is not SignatureState.PENDING_EMAIL
            else None,
            approved_at=now if state is SignatureState.APPROVED else None,
        )
        db.session.add(sig)
        db.session.commit()
        return sig.id


def get_signature(app, signature_id: int) -> Signature:
    with app.app_context():
        sig = db.session.get(Signature, signature_id)
        db.session.expunge(sig)
        return sig


def audit_rows(app, signature_id: int | None = None, action: str | None = None):
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if signature_id is not None:
            query = query.where(AuditEvent.signature_id == signature_id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        rows = list(db.session.scalars(query))
        for row in rows:
            db.session.expunge(row)
        return rows


def list_version(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Statement.list_version).where(Statement.slug == slug))


def count_state(app, state: SignatureState) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Signature.id)).where(Signature.state == state))


def act(client, signature_id: int, action: str, **data):
    data.setdefault("expected_state", "verified")
    return post(client, f"/staff/signatures/{signature_id}/{action}", data)


def flashes(client, response) -> str:
    location = response.headers["Location"]
    return client.get(location).get_data(as_text=True)
