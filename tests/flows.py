"""Helpers shared by the feature tests: sign, confirm and approve over HTTP; import approved rows."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import func, select

from petition.core.tokens import new_token
from petition.core.validation import country_display_name, name_key
from petition.extensions import db
from petition.models import (
    AuditEvent,
    CampaignUpdate,
    OrganisationType,
    OutboxMessage,
    Signature,
    SignatureSource,
    SignatureState,
    SignatureToken,
    Statement,
    StatementVersion,
    TokenPurpose,
    utcnow,
)
from petition.signatories.service import import_signatories
from petition.statements.service import get_statement
from tests.conftest import CSRF_RE, LINK_RE, csrf_token, valid_form, wait_jobs


def counts(app) -> tuple[int, int]:
    """(signatures, outbox messages): what a refused submission must leave unchanged."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Signature.id))),
            db.session.scalar(select(func.count(OutboxMessage.id))),
        )


def sign_url(slug: str) -> str:
    return f"/statements/{slug}/sign"


def post_form(client, slug: str, data: dict):
    data = dict(data)
    data.setdefault("csrf_token", csrf_token(client, sign_url(slug)))
    return client.post(sign_url(slug), data=data)


def confirm_link(app, email: str) -> str:
    """The confirmation link of the newest confirmation email queued for that address."""
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.to_address == email, OutboxMessage.kind == "confirm")
            .order_by(OutboxMessage.id.desc())
        )
    assert body, f"no confirmation queued for {email}"
    return next(p for p in LINK_RE.findall(body) if p.startswith("/confirm/"))


def manage_link(app, email: str) -> str:
    """The manage link of the newest email queued for that address that carries one."""
    with app.app_context():
        bodies = db.session.scalars(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.to_address == email)
            .order_by(OutboxMessage.id.desc())
        ).all()
    for body in bodies:
        for path in LINK_RE.findall(body):
            if path.startswith("/manage/"):
                return path
    raise AssertionError(f"no manage link mailed to {email}")


def legacy_withdraw_link(app, signature_id: int) -> str:
    """A withdrawal link as the emails sent before the manage link carried them."""
    token, token_hash = new_token()
    with app.app_context():
        db.session.add(
            SignatureToken(
                signature_id=signature_id, purpose=TokenPurpose.WITHDRAW, token_hash=token_hash
            )
        )
        db.session.commit()
    return f"/withdraw/{token}"


def withdraw_by_manage_link(client, manage_path: str):
    """Press "Withdraw the endorsement" on the manage page."""
    token = CSRF_RE.search(client.get(manage_path).get_data(as_text=True)).group(1)
    return client.post(f"{manage_path}/withdraw", data={"csrf_token": token})


def confirm(app, client, email: str) -> int:
    link = confirm_link(app, email)
    token = CSRF_RE.search(client.get(link).text)
    response = client.post(link, data={"csrf_token": token.group(1)})
    assert "Your endorsement is confirmed" in response.text
    with app.app_context():
        return db.session.scalar(select(Signature.id).where(Signature.email == email))


def sign_confirm_approve(app, client, slug: str, **fields) -> int:
    """The whole path of a form endorsement to the public list; returns the signature id."""
    response = post_form(client, slug, valid_form(**fields))
    assert response.status_code == 302, response.text
    signature_id = confirm(app, client, valid_form(**fields)["email"])
    result = app.test_cli_runner().invoke(args=["signatures", "approve", str(signature_id)])
    assert result.exit_code == 0, result.output
    wait_jobs(app)
    return signature_id


def csv_text(rows: list[dict]) -> str:
    fields = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def import_approved(app, slug: str, rows: list[dict]) -> None:
    """Add approved signatories through the import service (no email round trip)."""
    with app.app_context():
        import_signatories(get_statement(slug), csv_text(rows))


def read_csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def text_of(html: str) -> str:
    """Visible text, roughly: tags removed, whitespace folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def table_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Statement, StatementVersion, Signature, CampaignUpdate, AuditEvent)
        }


def add_signature(app, slug: str, name: str, state: SignatureState, email: str | None) -> int:
    """A signature in a given state, written directly: the CLI reads and moderates it."""
    with app.app_context():
        statement = get_statement(slug)
        sig = Signature(
            statement_id=statement.id,
            statement_version_id=statement.current_version_id,
            state=state,
            source=SignatureSource.FORM,
            organisation_name=name,
            organisation_name_key=name_key(name),
            organisation_type=OrganisationType.CLUSTER,
            organisation_type_order=OrganisationType.CLUSTER.order,
            country="DE",
            country_name=country_display_name("DE"),
            website="https://example.org",
            contact_name="Contact Person",
            contact_role="Director",
            email=email,
            email_normalised=email.lower() if email else None,
            verified_at=utcnow() if state is not SignatureState.PENDING_EMAIL else None,
        )
        db.session.add(sig)
        db.session.commit()
        return sig.id
