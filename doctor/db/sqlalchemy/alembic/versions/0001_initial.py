"""Alarms, their history and pending deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _datetime():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    op.create_table(
        'alarm',
        sa.Column('alarm_id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('description', sa.Text, nullable=True),
        sa.Column('type', sa.String(50), nullable=False),
        sa.Column('enabled', sa.Boolean, nullable=False),
        sa.Column('severity', sa.String(50), nullable=False),
        sa.Column('project_id', sa.String(128), nullable=True),
        sa.Column('user_id', sa.String(128), nullable=True),
        sa.Column('resource_id', sa.String(255), nullable=True),
        sa.Column('rule', db_types.JsonEncodedDict, nullable=False),
        sa.Column('alarm_actions', db_types.JsonEncodedList,
                  nullable=False),
        sa.Column('ok_actions', db_types.JsonEncodedList, nullable=False),
        sa.Column('insufficient_data_actions', db_types.JsonEncodedList,
                  nullable=False),
        sa.Column('repeat_actions', sa.Boolean, nullable=False),
        sa.Column('state', sa.String(32), nullable=False),
        sa.Column('state_reason', sa.Text, nullable=True),
        sa.Column('state_timestamp', _datetime(), nullable=False),
        sa.Column('timestamp', _datetime(), nullable=False),
        sa.Column('deadline', _datetime(), nullable=True),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_alarm_project_id', 'alarm', ['project_id'])
    op.create_index('ix_alarm_user_id', 'alarm', ['user_id'])
    op.create_index('ix_alarm_resource_id', 'alarm', ['resource_id'])
    op.create_index('ix_alarm_deadline', 'alarm', ['deadline'])

    op.create_table(
        'alarm_change',
        sa.Column('event_id', sa.String(36), primary_key=True),
        sa.Column('alarm_id', sa.String(36), nullable=False),
        sa.Column('on_behalf_of', sa.String(128), nullable=True),
        sa.Column('project_id', sa.String(128), nullable=True),
        sa.Column('user_id', sa.String(128), nullable=True),
        sa.Column('type', sa.String(32), nullable=False),
        sa.Column('detail', sa.Text, nullable=False),
        sa.Column('severity', sa.String(50), nullable=True),
        sa.Column('timestamp', _datetime(), nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_alarm_change_alarm_id_timestamp', 'alarm_change',
                    ['alarm_id', 'timestamp'])

    op.create_table(
        'alarm_delivery',
        sa.Column('delivery_id', sa.String(36), primary_key=True),
        sa.Column('alarm_id', sa.String(36), nullable=False),
        sa.Column('action', sa.Text, nullable=False),
        sa.Column('firing', db_types.JsonEncodedDict, nullable=False),
        sa.Column('created_at', _datetime(), nullable=False),
        sa.Column('claimed_at', _datetime(), nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_alarm_delivery_claimed_at', 'alarm_delivery',
                    ['claimed_at'])
