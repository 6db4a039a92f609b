"""signatures.city_key for accent-insensitive city search; staff_users.totp_last_step against code replay

Revision ID: c3d5f7a9b1e2
Revises: b2c4e6f8a0d1
Create Date: 2026-11-26 10:45:00

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = 'c3d5f7a9b1e2'
down_revision = 'b2c4e6f8a0d1'
branch_labels = None
depends_on = None


def _key(text):
    # A frozen copy of services.validation.name_key as it was when this migration was written.
    decomposed = unicodedata.normalize("NFKD", (text or "").replace("ł", "l").replace("Ł", "L"))
    stripped = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch
        for ch in decomposed
        if not unicodedata.combining(ch)
    )
    return re.sub(r"\s+", " ", stripped).strip().casefold()[:100]


def upgrade():
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('city_key', sa.String(length=100), nullable=False, server_default=''))
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))

    signatures = sa.table('signatures', sa.column('id', sa.Integer), sa.column('city', sa.String), sa.column('city_key', sa.String))
    conn = op.get_bind()
    rows = conn.execute(sa.select(signatures.c.id, signatures.c.city).where(signatures.c.city != '')).all()
    for row_id, city in rows:
        conn.execute(signatures.update().where(signatures.c.id == row_id).values(city_key=_key(city)))


def downgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_column('city_key')
