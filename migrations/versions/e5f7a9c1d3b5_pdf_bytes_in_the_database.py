"""PDF versions: bytes in the database (pdf_files), file state, delivered, withdrawn; build leases

The bytes of every version move from PDF_DIR into pdf_files (PDF_DIR becomes a per-host cache,
by SHA-256); a version whose file is already gone says so (file_state 'missing').

Revision ID: e5f7a9c1d3b5
Revises: e5f7a9c1d3b4
Create Date: 2026-12-03 07:30:00

"""

import hashlib
from pathlib import Path

import sqlalchemy as sa
from alembic import op


revision = "e5f7a9c1d3b5"
down_revision = "e5f7a9c1d3b4"
branch_labels = None
depends_on = None


def _pdf_dir():
    try:
        from flask import current_app

        return Path(current_app.config["PDF_DIR"])
    except (ImportError, RuntimeError, KeyError):
        return None


def upgrade():
    op.create_table(
        "pdf_files",
        sa.Column("pdf_version_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["pdf_version_id"], ["pdf_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pdf_version_id"),
    )
    with op.batch_alter_table("pdf_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("file_state", sa.String(length=32), nullable=False, server_default="stored")
        )
        batch_op.add_column(sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("delivered", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("signature_ids", sa.LargeBinary(), nullable=True))
        batch_op.create_check_constraint(
            "pdf_file_state", "file_state IN ('stored', 'pruned', 'missing')"
        )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pdf_build_lease_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("pdf_build_owner", sa.String(length=64), nullable=True))

    versions = sa.table(
        "pdf_versions",
        sa.column("id", sa.Integer),
        sa.column("filename", sa.String),
        sa.column("file_sha256", sa.String),
        sa.column("file_state", sa.String),
    )
    files = sa.table(
        "pdf_files",
        sa.column("pdf_version_id", sa.Integer),
        sa.column("sha256", sa.String),
        sa.column("data", sa.LargeBinary),
    )
    conn = op.get_bind()
    directory = _pdf_dir()
    for version_id, filename, sha in conn.execute(
        sa.select(versions.c.id, versions.c.filename, versions.c.file_sha256)
    ).all():
        path = directory / filename if directory is not None and filename else None
        data = path.read_bytes() if path is not None and path.is_file() else None
        if data is not None and hashlib.sha256(data).hexdigest() == sha:
            conn.execute(files.insert().values(pdf_version_id=version_id, sha256=sha, data=data))
        else:
            conn.execute(
                versions.update().where(versions.c.id == version_id).values(file_state="missing")
            )


def downgrade():
    # Back to files: every stored version is written under PDF_DIR by its recorded filename.
    directory = _pdf_dir()
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        conn = op.get_bind()
        rows = conn.execute(
            sa.text(
                "SELECT v.filename, v.file_sha256, f.data FROM pdf_files f"
                " JOIN pdf_versions v ON v.id = f.pdf_version_id"
            )
        ).all()
        for filename, _sha, data in rows:
            (directory / filename).write_bytes(bytes(data))
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_column("pdf_build_owner")
        batch_op.drop_column("pdf_build_lease_until")
    with op.batch_alter_table("pdf_versions", schema=None) as batch_op:
        batch_op.drop_constraint("pdf_file_state", type_="check")
        batch_op.drop_column("signature_ids")
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("delivered")
        batch_op.drop_column("pruned_at")
        batch_op.drop_column("file_state")
    op.drop_table("pdf_files")
