"""The inspector's faults.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _datetime():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def _long_list():
    return db_types.JsonEncodedList(mysql_as_long=True)


def upgrade() -> None:
    op.create_table(
        'fault',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('type', sa.String(64), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('open_host', sa.String(255), nullable=True),
        sa.Column('created_at', _datetime(), nullable=False),
        sa.Column('closed_at', _datetime(), nullable=True),
        sa.Column('affected', _long_list(), nullable=False),
        sa.Column('actions', _long_list(), nullable=False),
        sa.Column('checkpoints', db_types.JsonEncodedList, nullable=False),
        sa.Column('reports', _long_list(), nullable=False),
        sa.UniqueConstraint('open_host', name='uniq_fault0open_host'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_fault_host_created_at', 'fault',
                    ['host', 'created_at'])
    op.create_index('ix_fault_created_at', 'fault', ['created_at'])
