"""PDF versions: the delivery record (date, recipient, note) and when staff last changed it

Revision ID: c9e1a3b5d7f9
Revises: b8d0f2a4c6e8
Create Date: 2026-12-03 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "c9e1a3b5d7f9"
down_revision = "b8d0f2a4c6e8"
branch_labels = None
depends_on = None


def upgrade():
    # Versions marked delivered before this have no date or recipient: the pages say so.
    with op.batch_alter_table("pdf_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivered_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("delivered_to", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("delivery_note", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("delivery_recorded_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("pdf_versions", schema=None) as batch_op:
        batch_op.drop_column("delivery_recorded_at")
        batch_op.drop_column("delivery_note")
        batch_op.drop_column("delivered_to")
        batch_op.drop_column("delivered_on")
