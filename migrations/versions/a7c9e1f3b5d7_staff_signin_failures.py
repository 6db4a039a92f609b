"""staff_signin_failures: failed sign-ins per (staff account, client address) with progressive delays;
staff_users.locked_until (the whole account, for everyone) becomes signin_guarded_until (unknown
browsers only)

Revision ID: a7c9e1f3b5d7
Revises: f6a8b0c2d4e6
Create Date: 2026-12-04 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c9e1f3b5d7'
down_revision = 'f6a8b0c2d4e6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'staff_signin_failures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('staff_user_id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delayed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['staff_user_id'], ['staff_users.id'],
            name=op.f('fk_staff_signin_failures_staff_user_id_staff_users'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_signin_failures')),
        sa.UniqueConstraint(
            'staff_user_id', 'address', name=op.f('uq_staff_signin_failures_staff_user_id_address')
        ),
    )
    with op.batch_alter_table('staff_signin_failures', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_staff_signin_failures_expires_at'), ['expires_at'], unique=False
        )
    # An account lock of the old rule is lifted: it refused everyone, the new rule never does.
    # The old counts (failures from anywhere) mean something else now and start again.
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.add_column(
            sa.Column('signin_guarded_until', sa.DateTime(timezone=True), nullable=True)
        )
    op.execute('UPDATE staff_users SET failed_logins = 0, first_failed_login_at = NULL')


def downgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('signin_guarded_until')
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('staff_signin_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_signin_failures_expires_at'))
    op.drop_table('staff_signin_failures')
