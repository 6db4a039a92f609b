"""Helpers shared by the PDF build and PDF route tests: verified signatures, approvals, the served PDF."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import select

from petition.core.audit import Actor
from petition.core.db import write_transaction
from petition.core.validation import normalise_email
from petition.extensions import db
from petition.models import PdfVersion, Signature, SignatureState
from petition.moderation import service as moderation
from petition.signing.service import SignatureInput, submit_signature
from petition.statements.service import get_statement

SLUG = "interregional-innovation-investments"


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / f"doc-{hashlib.sha256(data).hexdigest()[:8]}.pdf"
    path.write_bytes(data)
    if shutil.which("pdftotext"):
        out = subprocess.run(
            ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
        )
        text = out.stdout.decode("utf-8")
    else:
        from pypdf import PdfReader

        text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    # -raw: the content stream's order, which is the reading order (column by column).
    # Line breaks depend on layout; the assertions are about words and their order.
    return " ".join(text.split())


def add_verified(
    app, name: str, *, email: str | None = None, org_type="university", country="PL", city=""
):
    """A signature that went through the form and the email confirmation (state verified)."""
    email = email or f"{abs(hash(name)) % 10**8}@example.org"
    with app.app_context():
        statement = get_statement(SLUG)
        data = SignatureInput(
            organisation_name=name,
            organisation_type=org_type,
            country=country,
            city=city,
            website="https://example.org",
            contact_name="Contact Person",
            contact_role="",
            email=email,
            email_normalised=normalise_email(email),
        )
        submit_signature(statement, data)
        return _mark_verified(normalise_email(email))


@write_transaction
def _mark_verified(email_key: str) -> int:
    sig = db.session.scalar(select(Signature).where(Signature.email_normalised == email_key))
    sig.state = SignatureState.VERIFIED
    return sig.id


def approve(app, *ids):
    with app.app_context():
        for sig_id in ids:
            assert (
                moderation.decide(sig_id, "approve", Actor.cli(), notify=False).result.value
                == "done"
            )


def versions(app) -> list[PdfVersion]:
    with app.app_context():
        rows = db.session.scalars(select(PdfVersion).order_by(PdfVersion.number)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def fetch(client, url: str, method: str = "GET", **kwargs):
    """A request whose file-backed body is read and closed (send_file keeps the file open)."""
    response = client.open(url, method=method, **kwargs)
    response.get_data()
    response.close()
    return response


def latest_pdf(client) -> bytes:
    response = fetch(client, f"/statements/{SLUG}/statement.pdf")
    assert response.status_code == 200
    return response.data
