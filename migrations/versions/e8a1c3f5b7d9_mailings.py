"""Mailings to signatories who asked to be kept informed: the opt-in, mailings, their recipients

Revision ID: e8a1c3f5b7d9
Revises: 4cbf38279466
Create Date: 2026-12-03 23:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "e8a1c3f5b7d9"
down_revision = "4cbf38279466"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        # Endorsements given before the box existed have not opted in.
        batch_op.add_column(
            sa.Column("keep_informed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("list_unsubscribe", sa.String(length=500), nullable=False, server_default="")
        )
    op.create_table(
        "mailings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "sent",
                name="mailing_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("composed_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.String(length=320), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["statements.id"],
            name=op.f("fk_mailings_statement_id_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailings")),
    )
    with op.batch_alter_table("mailings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailings_statement_id"), ["statement_id"])
    op.create_table(
        "mailing_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailing_id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=True),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["mailing_id"],
            ["mailings.id"],
            name=op.f("fk_mailing_recipients_mailing_id_mailings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signatures.id"],
            name=op.f("fk_mailing_recipients_signature_id_signatures"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_mailing_recipients_outbox_message_id_outbox_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailing_recipients")),
        sa.UniqueConstraint(
            "mailing_id", "signature_id", name=op.f("uq_mailing_recipients_mailing_id_signature_id")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_mailing_recipients_token_hash")),
    )
    with op.batch_alter_table("mailing_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailing_recipients_signature_id"), ["signature_id"]
        )


def downgrade():
    op.drop_table("mailing_recipients")
    op.drop_table("mailings")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("list_unsubscribe")
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_column("unsubscribed_at")
        batch_op.drop_column("keep_informed")
