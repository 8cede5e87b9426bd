"""Checkpoints of faults recorded after the inspector's: a row each.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fault_checkpoint',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('fault_id', sa.String(36), nullable=False),
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('component', sa.String(64), nullable=False),
        sa.Column('timestamp', sa.DateTime().with_variant(
            mysql.DATETIME(fsp=6), 'mysql'), nullable=False),
        sa.Column('alarm_id', sa.String(36), nullable=True),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_fault_checkpoint_fault_id', 'fault_checkpoint',
                    ['fault_id'])
