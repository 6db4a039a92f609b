"""statements.current_version_id: add the foreign key that the initial table creation deferred

The initial migration declared it with use_alter=True inside create_table, which SQLite keeps inline
but PostgreSQL skips (it waits for an ALTER that create_table never emits).

Revision ID: d4e6a8c0b2f3
Revises: c3d5f7a9b1e2
Create Date: 2026-11-26 10:55:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd4e6a8c0b2f3'
down_revision = 'c3d5f7a9b1e2'
branch_labels = None
depends_on = None

NAME = 'fk_statements_current_version_id_statement_versions'


def _has_fk(conn) -> bool:
    return any(fk.get('name') == NAME or fk.get('constrained_columns') == ['current_version_id']
               for fk in sa.inspect(conn).get_foreign_keys('statements'))


def upgrade():
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite' or _has_fk(conn):
        return
    op.create_foreign_key(NAME, 'statements', 'statement_versions', ['current_version_id'], ['id'],
                          ondelete='SET NULL')


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name != 'sqlite' and _has_fk(conn):
        op.drop_constraint(NAME, 'statements', type_='foreignkey')
