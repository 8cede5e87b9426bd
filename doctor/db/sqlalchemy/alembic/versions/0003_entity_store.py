"""The synchronizer's entity store.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _datetime():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    op.create_table(
        'entity',
        sa.Column('key', sa.String(255), primary_key=True),
        sa.Column('type', sa.String(64), nullable=False),
        sa.Column('entity_id', sa.String(255), nullable=False),
        sa.Column('name', sa.String(255), nullable=True),
        sa.Column('state', sa.String(64), nullable=True),
        sa.Column('project_id', sa.String(128), nullable=True),
        sa.Column('datasource', sa.String(64), nullable=False),
        sa.Column('parents', db_types.JsonEncodedList, nullable=False),
        sa.Column('attributes', db_types.JsonEncodedDict, nullable=False),
        sa.Column('digest', sa.String(64), nullable=True),
        sa.Column('updated_at', _datetime(), nullable=False),
        sa.Column('deleted', sa.Boolean, nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_entity_type', 'entity', ['type'])
    op.create_index('ix_entity_datasource', 'entity', ['datasource'])
    op.create_index('ix_entity_deleted_updated_at', 'entity',
                    ['deleted', 'updated_at'])
    op.create_table(
        'entity_parent',
        sa.Column('child_key', sa.String(255), primary_key=True),
        sa.Column('parent_key', sa.String(255), primary_key=True),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_entity_parent_parent_key', 'entity_parent',
                    ['parent_key'])
