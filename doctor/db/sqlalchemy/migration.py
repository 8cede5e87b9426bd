"""Schema migrations with alembic."""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
import sqlalchemy as sa


def _config(engine_connection: sa.engine.Connection) -> alembic_config.Config:
    config = alembic_config.Config(
        os.path.join(os.path.dirname(__file__), 'alembic.ini'))
    config.set_main_option(
        'script_location', os.path.join(os.path.dirname(__file__),
                                        'alembic'))
    config.attributes['connection'] = engine_connection
    return config


def upgrade(engine: sa.engine.Engine, revision: str = 'head') -> None:
    """Migrate the database of ``engine`` up to ``revision``."""
    with engine.begin() as connection:
        alembic_command.upgrade(_config(connection), revision)


def version(engine: sa.engine.Engine) -> str | None:
    """The revision the database of ``engine`` is at, None if unversioned."""
    with engine.connect() as connection:
        context = alembic_migration.MigrationContext.configure(connection)
        return context.get_current_revision()


def head() -> str:
    """The newest revision this code knows."""
    from alembic import script
    with sa.create_engine('sqlite://').connect() as connection:
        directory = script.ScriptDirectory.from_config(_config(connection))
    head = directory.get_current_head()
    # alembic returns None only for an empty versions directory, and doctor
    # ships its migrations with its code.
    assert head is not None
    return head
