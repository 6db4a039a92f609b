"""Import batches: an uploaded file of endorsements from its preview to its import, and the
signatures each created (issue 13.1)

Revision ID: b8d0e2f4a6c9
Revises: a7c9e1f3b5d8
Create Date: 2026-12-04 03:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "b8d0e2f4a6c9"
down_revision = "a7c9e1f3b5d8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["statement_id"], ["statements.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_import_batches_statement_id", "import_batches", ["statement_id"])
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_batch_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_signatures_import_batch_id", ["import_batch_id"])
        batch_op.create_foreign_key(
            "fk_signatures_import_batch_id",
            "import_batches",
            ["import_batch_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_constraint("fk_signatures_import_batch_id", type_="foreignkey")
        batch_op.drop_index("ix_signatures_import_batch_id")
        batch_op.drop_column("import_batch_id")
    op.drop_index("ix_import_batches_statement_id", table_name="import_batches")
    op.drop_table("import_batches")
