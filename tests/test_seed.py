"""`flask seed`: the default statement, founding signatories and updates, idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.models import CampaignUpdate
from petition.statements.service import get_statement
from tests.flows import table_counts

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


# ---------------------------------------------------------------- seed


def test_seed_twice_changes_nothing(app, runner):
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "statement interregional-innovation-investments: created" in first.output
    assert "founding signatories imported: 4" in first.output
    assert "campaign updates added: 8" in first.output
    after_first = table_counts(app)
    assert after_first["Statement"] == 1 and after_first["Signature"] == 4
    assert after_first["CampaignUpdate"] == 8  # one section gives two quotes and a news item

    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0, second.output
    assert second.output.splitlines()[:3] == [
        "statement interregional-innovation-investments: up to date",
        "founding signatories imported: 0",
        "campaign updates added: 0",
    ]
    assert table_counts(app) == after_first
    with app.app_context():
        statement = get_statement("interregional-innovation-investments")
        assert statement.list_version == 1  # the import, once
        drafts = db.session.scalars(
            select(CampaignUpdate.title).where(CampaignUpdate.is_published.is_(False))
        ).all()
    assert sorted(drafts) == [
        "3DP Business Innovators Meeting",  # cut off in the source
        # (the source has a no-break space after the colon)
        "Download and share:\u00a0Joint-Statement-on-EU-Interregional-Innovation-Investments-"
        "Towards-EU-Economic-Recovery",
        "Read more: recovery",  # no link in the source: a dead end until staff add one
        "Synergy Days 2023",  # an event without its registration link
    ]
