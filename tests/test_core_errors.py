"""Error pages and the error log: an unexpected error on a token page never logs the token."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.models import OutboxMessage
from petition.signing import manage as managing
from petition.signing import service as signing
from tests.conftest import links_in, submit_sign, wait_jobs

# ---------------------------------------------------------------- tokens in the error log


@pytest.mark.config(PROPAGATE_EXCEPTIONS=False)
def test_an_unexpected_error_on_a_token_page_does_not_log_the_token(
    app, client, seeded, caplog, monkeypatch
):
    submit_sign(client, seeded)
    wait_jobs(app)
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "confirm"))
        body = message.body_text
    from email.message import EmailMessage

    mail = EmailMessage()
    mail.set_content(body)
    links = links_in(mail)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(signing, "signature_for_confirmation", broken)
    monkeypatch.setattr(signing, "signature_for_withdrawal", broken)
    monkeypatch.setattr(managing, "signature_for_manage", broken)
    caplog.set_level(logging.INFO)
    withdraw = "/withdraw/" + "w" * 43  # an old email's withdrawal link
    for path in (links["confirm"], links["manage"], withdraw):
        token = path.rsplit("/", 1)[1]
        caplog.clear()
        assert client.get(path).status_code == 500
        assert "the database went away" in caplog.text  # the error is logged …
        assert token not in caplog.text  # … but not the secret in the address
        assert f"/{path.split('/')[1]}/[token]" in caplog.text
