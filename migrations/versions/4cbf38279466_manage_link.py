"""The manage link: token purposes 'manage' and 'new_email', a pending new address, proposed changes

Revision ID: 4cbf38279466
Revises: d1f3a5c7e9b2
Create Date: 2026-12-03 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "4cbf38279466"
down_revision = "d1f3a5c7e9b2"
branch_labels = None
depends_on = None

OLD = ("confirm", "withdraw")
NEW = (*OLD, "manage", "new_email")
CHECK = "ck_signature_tokens_token_purpose"
CHANGE_STATES = ("proposed", "accepted", "rejected", "superseded")


def _in(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    # The purpose is VARCHAR + CHECK on both backends: a new value is a new CHECK (on SQLite
    # batch mode rebuilds the table, carrying every other constraint over).
    with op.batch_alter_table("signature_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), _in("purpose", NEW))
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("new_email", sa.String(length=320), nullable=True))
        batch_op.add_column(
            sa.Column("new_email_normalised", sa.String(length=320), nullable=True)
        )
    op.create_table(
        "signature_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                *CHANGE_STATES,
                name="change_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signatures.id"],
            name=op.f("fk_signature_changes_signature_id_signatures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_changes")),
    )
    with op.batch_alter_table("signature_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signature_changes_signature_id"), ["signature_id"], unique=False
        )
        batch_op.create_index("ix_signature_changes_state", ["state", "created_at"], unique=False)
        batch_op.create_index(
            "uq_signature_changes_one_proposed",
            ["signature_id"],
            unique=True,
            sqlite_where=sa.text("state = 'proposed'"),
            postgresql_where=sa.text("state = 'proposed'"),
        )


def downgrade():
    op.drop_table("signature_changes")
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_column("new_email_normalised")
        batch_op.drop_column("new_email")
    # Links of the new kinds mean nothing before this revision.
    op.execute("DELETE FROM signature_tokens WHERE purpose IN ('manage', 'new_email')")
    with op.batch_alter_table("signature_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), _in("purpose", OLD))
