"""Outbox: the recipient domain of mail capped per domain per hour (MAIL_DOMAIN_HOURLY_LIMIT)

Revision ID: a7b9c1d3e5f7
Revises: a7c9e1f3b5d7
Create Date: 2026-12-03 11:00:00

"""

import sqlalchemy as sa
from alembic import op


revision = "a7b9c1d3e5f7"
down_revision = "a7c9e1f3b5d7"
branch_labels = None
depends_on = None


def upgrade():
    # Mail queued before the cap counts for no domain: it was sent long ago, or is a retry.
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("capped_domain", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.create_index(
            "ix_outbox_capped_domain", ["capped_domain", "next_attempt_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_capped_domain")
        batch_op.drop_column("capped_domain")
