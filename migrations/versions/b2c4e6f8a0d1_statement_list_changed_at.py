"""statements.list_changed_at: when the public list last changed, for the PDF debounce

Revision ID: b2c4e6f8a0d1
Revises: afd4374a83d1
Create Date: 2026-11-26 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b2c4e6f8a0d1'
down_revision = 'afd4374a83d1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('list_changed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_column('list_changed_at')
