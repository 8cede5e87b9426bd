"""Deliveries that failed wait for their next attempt, in order.

A delivery that failed is kept with the number of attempts made and the
time of the next one, instead of being given up after a few seconds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _datetime():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    with op.batch_alter_table('alarm_delivery') as batch:
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.add_column(sa.Column('next_attempt_at', _datetime(),
                                   nullable=True))
    op.create_index('ix_alarm_delivery_next_attempt_at', 'alarm_delivery',
                    ['next_attempt_at'])
    op.create_index('ix_alarm_delivery_alarm_id_created_at',
                    'alarm_delivery', ['alarm_id', 'created_at'])
