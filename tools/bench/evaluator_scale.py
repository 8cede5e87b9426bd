"""Benchmark: evaluator throughput with 1 process and with several.

On RabbitMQ and PostgreSQL, RESOURCES instances have one alarm each, with
a webhook to doctor's sample consumer (a process of its own). For each
process count, doctor-evaluator runs as ``[evaluator] processes = N``
(partitioned when N > 1, with Redis for coordination); a backlog of
BACKLOG notifications, each flipping its instance's alarm (a state change,
a transaction and a webhook each), is queued while it is stopped, and
the webhook rate is taken from the first webhook received to the last once it
starts again; the rate of state changes stored (from the first to the
last in the alarm history) is taken too, the evaluators' own whatever
the webhooks'. The ratio of each count to one process is printed.

Run from the repository root:

    .venv/bin/python tools/bench/evaluator_scale.py --processes 1,2
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import alarms
import backends
import sqlalchemy as sa

from doctor.db import api as db_api
from doctor.db.sqlalchemy import models
from doctor.tests import base as test_base
from doctor.tests.functional import outage

# Its own database and virtual host: other benchmarks may run meanwhile.
PG_DATABASE = 'doctor_bench_scale'
PG_URL = backends.postgresql_url(PG_DATABASE)
RABBIT_VHOST = 'doctor-bench-scale'
RABBIT_URL = backends.rabbit_url(RABBIT_VHOST)
READY = 'Listening for notifications'
LEADING = 'Leading the evaluator intake'


def write_config(path: str, processes: int, receiver_port: int,
                 partitions: int, threads: int) -> str:
    sections = {
        'DEFAULT': {'transport_url': RABBIT_URL,
                    'state_path': os.path.dirname(path)},
        'database': {'connection': PG_URL, 'max_pool_size': 4,
                     'max_overflow': 2},
        'evaluator': {'processes': processes, 'partitions': partitions,
                      'executor_threads': threads, 'resync_interval': 0},
        # A backlog of webhooks longer than redelivery_after would be
        # taken over by the other process and sent twice.
        'notifier': {'allowed_networks': '127.0.0.0/8',
                     'redelivery_after': 600},
        'coordination': {
            'backend_url': 'redis://127.0.0.1:6379?namespace=%s&timeout=5'
            % uuid.uuid4().hex},
    }
    return outage.write_config(path, sections)


class Evaluator:
    """doctor-evaluator as a process group of its own."""

    def __init__(self, config: str, log_path: str, processes: int) -> None:
        self.config = config
        self.log_path = log_path
        self.processes = processes
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        offset = (os.path.getsize(self.log_path)
                  if os.path.exists(self.log_path) else 0)
        with open(self.log_path, 'ab') as log_file:
            self.process = subprocess.Popen(
                [outage.console_script('doctor-evaluator'), '--config-file',
                 self.config, '--log-file', self.log_path],
                stdout=log_file, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log_path, 'rb') as f:
                f.seek(offset)
                text = f.read().decode('utf-8', 'replace')
            if text.count(READY) >= self.processes and (
                    self.processes == 1 or LEADING in text):
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('doctor-evaluator did not start; see %s'
                                   % self.log_path)
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None


def stored_changes(conf) -> tuple[int, float]:
    """State changes stored, and the seconds from the first to the last.

    The evaluator's own rate, whatever the webhooks' (the consumer, or
    the deliveries to one target at a time, may be slower).
    """
    change = models.AlarmChange.__table__
    connection = db_api.get_connection(conf)
    try:
        with connection.engine.connect() as db:
            count, first, last = db.execute(
                sa.select(sa.func.count(), sa.func.min(change.c.timestamp),
                          sa.func.max(change.c.timestamp))
                .where(change.c.type == db_api.CHANGE_STATE)).one()
    finally:
        connection.engine.dispose()
    if not count or first is None:
        return 0, 0.0
    return count, (last - first).total_seconds()


def run(args, processes: int, receiver: alarms.Receiver,
        workdir: str) -> dict:
    backends.reset_postgresql(PG_DATABASE)
    backends.reset_rabbit_vhost(RABBIT_VHOST)
    conf = test_base.new_conf()
    conf.set_override('connection', PG_URL, group='database')
    resources = [str(uuid.uuid4()) for _ in range(args.resources)]
    alarms.prepare_database(conf, alarms.alarm_rows(resources, 1,
                                                    receiver.url))
    config = write_config(os.path.join(workdir, 'doctor-%d.conf'
                                       % processes),
                          processes, receiver.port, args.partitions,
                          args.threads)
    evaluator = Evaluator(config, os.path.join(
        workdir, 'evaluator-%d.log' % processes), processes)
    # Started once so that its queues exist, then stopped while the
    # backlog is queued.
    evaluator.start()
    evaluator.stop()
    receiver.fetch()
    events = alarms.plan(args.backlog, resources)
    alarms.publish_remote(RABBIT_URL, events, 0)
    evaluator.start()
    received: list[dict] = []

    def enough():
        received.extend(receiver.fetch())
        return len(received) >= len(events)
    try:
        complete = alarms.wait_for(enough, args.timeout)
    finally:
        evaluator.stop()
    times = sorted(record['received_at'] for record in received)
    seconds = times[-1] - times[0] if len(times) > 1 else 0.0
    stored, stored_seconds = stored_changes(conf)
    return {'processes': processes, 'events': len(events),
            'transitions_stored': stored,
            'stored_per_s': ((stored - 1) / stored_seconds
                             if stored_seconds else 0.0),
            'webhooks': len(received), 'complete': complete,
            'duplicates': len(received) - len(
                {(record['alarm']['alarm_id'],
                  record['alarm']['reason_data']['event']['message_id'])
                 for record in received}),
            'seconds': seconds,
            'events_per_s': (len(times) - 1) / seconds if seconds else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--processes', default='1,2',
                        help='process counts to measure, comma-separated')
    parser.add_argument('--resources', type=int, default=2000)
    parser.add_argument('--backlog', type=int, default=20000)
    parser.add_argument('--partitions', type=int, default=32)
    parser.add_argument('--threads', type=int, default=4,
                        help='[evaluator] executor_threads of each process')
    parser.add_argument('--timeout', type=float, default=900)
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args()
    receiver = alarms.Receiver()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix='doctor-scale-') as workdir:
            for count in (int(n) for n in args.processes.split(',')):
                result = run(args, count, receiver, workdir)
                results.append(result)
                print(json.dumps(result), flush=True)
    finally:
        receiver.stop()
    base = next((r['events_per_s'] for r in results
                 if r['processes'] == 1), None)
    stored_base = next((r['stored_per_s'] for r in results
                        if r['processes'] == 1), None)
    print('\nprocesses  webhooks/s  ratio  state changes stored/s  ratio')
    for result in results:
        ratio = result['events_per_s'] / base if base else float('nan')
        stored_ratio = (result['stored_per_s'] / stored_base
                        if stored_base else float('nan'))
        print('%9d  %10.0f  %5.2f  %22.0f  %5.2f%s' % (
            result['processes'], result['events_per_s'], ratio,
            result['stored_per_s'], stored_ratio,
            '' if result['complete'] else '  (incomplete)'))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
