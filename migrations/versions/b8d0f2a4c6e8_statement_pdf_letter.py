"""Statements: the PDF's addressee, place and date lines (all optional)

Revision ID: b8d0f2a4c6e8
Revises: 3c1d8e4f7a92
Create Date: 2026-12-03 11:15:00

"""

import sqlalchemy as sa
from alembic import op

revision = "b8d0f2a4c6e8"
down_revision = "3c1d8e4f7a92"
branch_labels = None
depends_on = None


def upgrade():
    # NULL: no addressee line; no place before the date; the date of the build.
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdf_addressee", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("pdf_place", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("pdf_date", sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_column("pdf_date")
        batch_op.drop_column("pdf_place")
        batch_op.drop_column("pdf_addressee")
