"""Guests watched by compute agents, and their heartbeat status.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _precise_datetime() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    op.create_table(
        'heartbeat',
        sa.Column('instance_id', sa.String(255), primary_key=True),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('project_id', sa.String(255), nullable=True),
        sa.Column('interval_ms', sa.Integer, nullable=True),
        sa.Column('threshold', sa.Integer, nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('reason', sa.String(255), nullable=True),
        sa.Column('last_seen', _precise_datetime(), nullable=True),
        sa.Column('updated_at', _precise_datetime(), nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_heartbeat_project_id', 'heartbeat', ['project_id'])
    op.create_index('ix_heartbeat_host', 'heartbeat', ['host'])
