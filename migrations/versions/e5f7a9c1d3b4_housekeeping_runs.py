"""housekeeping_runs: the periodic housekeeping's schedule, claimed once per period by one process

Revision ID: e5f7a9c1d3b4
Revises: d4e6a8c0b2f3
Create Date: 2026-12-03 07:20:00

"""
from alembic import op
import sqlalchemy as sa

from datetime import UTC, datetime


revision = 'e5f7a9c1d3b4'
down_revision = 'd4e6a8c0b2f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'housekeeping_runs',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('slot', sa.BigInteger(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failed_tasks', sa.Text(), nullable=False),
        sa.Column('runner', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_housekeeping_runs')),
    )
    # The row exists from the deployment on, so /healthz can tell a schedule that never ran.
    table = sa.table(
        'housekeeping_runs',
        sa.column('name', sa.String), sa.column('slot', sa.BigInteger),
        sa.column('failed_tasks', sa.Text), sa.column('runner', sa.String),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    op.bulk_insert(table, [{'name': 'periodic', 'slot': 0, 'failed_tasks': '', 'runner': '',
                            'created_at': datetime.now(UTC)}])


def downgrade():
    op.drop_table('housekeeping_runs')
