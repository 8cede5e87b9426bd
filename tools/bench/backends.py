"""The real backends the benchmarks run on: PostgreSQL and RabbitMQ.

Both on 127.0.0.1, as on every developer machine and in CI: PostgreSQL
with trust authentication, RabbitMQ with guest/guest. Each benchmark
gets a fresh database and virtual host of its own name. Also the webhook
receiver a benchmark waits on alarm by alarm (:class:`StreamingReceiver`).
"""

import multiprocessing
import os
import queue
import subprocess
import threading

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


# -- the webhook receiver, streaming what it receives

def _streaming_receiver_main(ports, records) -> None:
    # Imported here: the other helpers of this module need no doctor.
    from doctor.common import wsgi
    from doctor.consumer import app as consumer_app

    consumer = consumer_app.Consumer(capacity=1000, on_alarm=records.put)
    server = wsgi.WSGIService('bench-receiver', lambda: consumer,
                              '127.0.0.1', 0)
    server.start()
    ports.put(server.port)
    threading.Event().wait()


class StreamingReceiver:
    """doctor's sample consumer in a child process, streaming each alarm.

    Each alarm the consumer records (its arrival time, path and body) is
    handed to this process as it arrives, so that waiting for alarms costs
    the receiver no listing of everything received so far: what it records
    is not delayed by the benchmark asking.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context('spawn')
        ports = context.Queue()
        self._records = context.Queue()
        self._process = context.Process(
            target=_streaming_receiver_main, args=(ports, self._records),
            daemon=True)
        self._process.start()
        self.port = ports.get(timeout=60)
        self.url = 'http://127.0.0.1:%d/alarm' % self.port

    def get(self, timeout: float) -> dict | None:
        """The next alarm received, or None after ``timeout`` seconds."""
        try:
            return self._records.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def drain(self, quiet: float) -> list[dict]:
        """Every alarm received until none came for ``quiet`` seconds."""
        drained: list[dict] = []
        while True:
            record = self.get(quiet)
            if record is None:
                return drained
            drained.append(record)

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(5)
