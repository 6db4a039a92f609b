"""signatures.search_key: name and city folded for search (accents, case, hyphens, apostrophes)

Revision ID: d1f3a5c7e9b2
Revises: d0f2b4c6e8a1
Create Date: 2026-12-03 17:00:00

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = 'd1f3a5c7e9b2'
down_revision = 'd0f2b4c6e8a1'
branch_labels = None
depends_on = None

_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h"})


def _fold(text):
    # A frozen copy of core.validation.search_fold as it was when this migration was written.
    decomposed = unicodedata.normalize("NFKD", (text or "").replace("ł", "l").replace("Ł", "L"))
    stripped = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch
        for ch in decomposed
        if not unicodedata.combining(ch)
    )
    folded = re.sub(r"\s+", " ", stripped).strip().casefold().translate(_LETTERS)
    return " ".join(re.sub(r"[^\w]|_", " ", folded).split())


def _key(name, city):
    return f"{_fold(name)}|{_fold(city)}"[:320]


def upgrade():
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_key', sa.String(length=320), nullable=False, server_default=''))

    signatures = sa.table(
        'signatures',
        sa.column('id', sa.Integer),
        sa.column('organisation_name', sa.String),
        sa.column('city', sa.String),
        sa.column('search_key', sa.String),
    )
    conn = op.get_bind()
    update = (
        signatures.update()
        .where(signatures.c.id == sa.bindparam('row_id'))
        .values(search_key=sa.bindparam('key'))
    )
    last = 0
    while True:  # in batches: a campaign may already hold many thousand rows
        rows = conn.execute(
            sa.select(signatures.c.id, signatures.c.organisation_name, signatures.c.city)
            .where(signatures.c.id > last)
            .order_by(signatures.c.id)
            .limit(2000)
        ).all()
        if not rows:
            break
        conn.execute(update, [{'row_id': i, 'key': _key(name, city)} for i, name, city in rows])
        last = rows[-1][0]

    if conn.dialect.name == 'postgresql':
        # pg_trgm ships with PostgreSQL and is a trusted extension (13+): the database's owner
        # may create it. The trigram index lets LIKE '%…%' use an index.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.create_index(
        'ix_signatures_search_key',
        'signatures',
        ['search_key'],
        unique=False,
        postgresql_using='gin',
        postgresql_ops={'search_key': 'gin_trgm_ops'},
    )


def downgrade():
    op.drop_index('ix_signatures_search_key', table_name='signatures')
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_column('search_key')
