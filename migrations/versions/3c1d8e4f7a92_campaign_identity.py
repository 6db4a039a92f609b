"""Campaign identity (one row) and its files (the logo); event and quote fields of campaign updates

Revision ID: 3c1d8e4f7a92
Revises: a7b9c1d3e5f7
Create Date: 2026-12-03 10:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "3c1d8e4f7a92"
down_revision = "a7b9c1d3e5f7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "campaign_identity",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("short_name", sa.String(length=60), nullable=False),
        sa.Column("organisation_name", sa.String(length=300), nullable=False),
        sa.Column("organisation_address", sa.String(length=500), nullable=False),
        sa.Column("organisation_email", sa.String(length=254), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("sender_name", sa.String(length=100), nullable=False),
        sa.Column("sender_email", sa.String(length=254), nullable=False),
        sa.Column("reply_to", sa.String(length=254), nullable=False),
        sa.Column("processors", sa.Text(), nullable=False),
        sa.Column("logo_sha256", sa.String(length=64), nullable=True),
        sa.Column("logo_content_type", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="campaign_identity_single_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "campaign_files",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("campaign_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attribution", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("event_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("place", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("campaign_updates", schema=None) as batch_op:
        batch_op.drop_column("place")
        batch_op.drop_column("event_date")
        batch_op.drop_column("attribution")
    op.drop_table("campaign_files")
    op.drop_table("campaign_identity")
