"""Statements: the licence of the open data (CC0 1.0 unless staff choose CC BY 4.0)

Revision ID: f1a3c5e7b9d2
Revises: e8a1c3f5b7d9
Create Date: 2026-12-04 00:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "f1a3c5e7b9d2"
down_revision = "e8a1c3f5b7d9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("data_licence", sa.String(length=32), nullable=False, server_default="CC0-1.0")
        )


def downgrade():
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_column("data_licence")
