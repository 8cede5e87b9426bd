"""Whether an alarm sees the events that name no project.

Existing alarms do not: an administrator replaces those that should.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('alarm', sa.Column('infrastructure', sa.Boolean,
                                     nullable=False,
                                     server_default=sa.false()))
