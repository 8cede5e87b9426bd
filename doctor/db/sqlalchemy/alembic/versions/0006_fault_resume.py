"""Faults an inspector can resume: their steps, progress and owner.

Faults recorded before this revision are marked handled: what they were
to do was not stored, so no inspector could finish them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _datetime():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def _long_list():
    return db_types.JsonEncodedList(mysql_as_long=True)


def upgrade() -> None:
    with op.batch_alter_table('fault') as batch:
        batch.add_column(sa.Column('steps', _long_list(), nullable=True))
        batch.add_column(sa.Column('done', _long_list(), nullable=True))
        batch.add_column(sa.Column('owner', sa.String(255), nullable=True))
        batch.add_column(sa.Column('heartbeat_at', _datetime(),
                                   nullable=True))
        batch.add_column(sa.Column('handled_at', _datetime(),
                                   nullable=True))
        batch.add_column(sa.Column('resumes', db_types.JsonEncodedList,
                                   nullable=True))
    op.create_index('ix_fault_owner', 'fault', ['owner'])
    fault = sa.table('fault', sa.column('created_at', _datetime()),
                     sa.column('handled_at', _datetime()))
    op.execute(fault.update().values(handled_at=fault.c.created_at))
