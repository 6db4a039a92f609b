"""Outbox: the 'uncertain' status and the count of unanswered sends ("maybe sent" mail)

Revision ID: f6a8b0c2d4e6
Revises: e5f7a9c1d3b5
Create Date: 2026-12-03 10:00:00

"""

import sqlalchemy as sa
from alembic import op


revision = "f6a8b0c2d4e6"
down_revision = "e5f7a9c1d3b5"
branch_labels = None
depends_on = None

OLD = ("queued", "sending", "sent", "failed")
NEW = (*OLD, "uncertain")
CHECK = "ck_outbox_messages_outbox_status"


def _status_check(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    # The status is VARCHAR + CHECK on both backends: a new value is a new CHECK (on SQLite
    # batch mode rebuilds the table, carrying every other constraint over).
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unanswered_sends", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), _status_check(NEW))


def downgrade():
    # An uncertain message was never confirmed sent: before this revision that was "failed".
    op.execute("UPDATE outbox_messages SET status = 'failed' WHERE status = 'uncertain'")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), _status_check(OLD))
        batch_op.drop_column("unanswered_sends")
