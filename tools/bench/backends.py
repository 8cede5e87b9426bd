"""The real backends the benchmarks run on: PostgreSQL and RabbitMQ.

Both on 127.0.0.1, as on every developer machine and in CI: PostgreSQL
with trust authentication, RabbitMQ with guest/guest. Each benchmark
gets a fresh database and virtual host of its own name.
"""

import os
import subprocess

import sqlalchemy as sa

PG_ADMIN_URL = 'postgresql+psycopg2://postgres@127.0.0.1/postgres'


def postgresql_url(database: str) -> str:
    """The URL of ``database`` on the local PostgreSQL."""
    return 'postgresql+psycopg2://postgres@127.0.0.1/' + database


def rabbit_url(vhost: str) -> str:
    """The transport URL of ``vhost`` on the local RabbitMQ."""
    return 'rabbit://guest:guest@127.0.0.1:5672/' + vhost


def reset_postgresql(database: str) -> None:
    """Drop ``database`` if it exists and create it empty."""
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level='AUTOCOMMIT')
    with engine.connect() as db:
        db.execute(sa.text('DROP DATABASE IF EXISTS ' + database))
        db.execute(sa.text('CREATE DATABASE ' + database))
    engine.dispose()


def reset_rabbit_vhost(vhost: str) -> None:
    """Delete ``vhost`` if it exists and create it empty, for guest."""
    env = dict(os.environ, ERL_EPMD_ADDRESS='127.0.0.1')
    subprocess.run(['rabbitmqctl', '-q', 'delete_vhost', vhost],
                   env=env, capture_output=True)
    subprocess.run(['rabbitmqctl', '-q', 'add_vhost', vhost],
                   env=env, check=True, capture_output=True)
    subprocess.run(['rabbitmqctl', '-q', 'set_permissions', '-p', vhost,
                    'guest', '.*', '.*', '.*'],
                   env=env, check=True, capture_output=True)
