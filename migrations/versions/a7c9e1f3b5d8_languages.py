"""Languages: each signature's language (its emails are written in it) and translations of a
statement's text

Revision ID: a7c9e1f3b5d8
Revises: f1a3c5e7b9d2
Create Date: 2026-12-04 03:00:00

"""

import sqlalchemy as sa
from alembic import op


revision = "a7c9e1f3b5d8"
down_revision = "f1a3c5e7b9d2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lang", sa.String(length=16), nullable=False, server_default="en")
        )
    op.create_table(
        "statement_translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("statement_version_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("subtitle", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["statement_id"], ["statements.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["statement_version_id"], ["statement_versions.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("statement_id", "lang"),
    )


def downgrade():
    op.drop_table("statement_translations")
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_column("lang")
