"""Benchmark of doctor's delivery guarantee under faults, at scale.

Runs the fault-injection scenarios of the functional suite larger than the
suite runs them in CI, each in a fresh process, and prints the ledger of
each: events published, transitions expected and stored, webhooks
received, lost and duplicated, alarms left in a wrong state, and how long
after the fault ended everything was quiet again (nothing unacknowledged
on the bus, no delivery owed).

The scenarios and their scale follow the measurements that preceded the
acknowledge-after-store evaluator, so that the table reads as before and
after:

* ``no fault``: 200 events a second, every alarm flipping once a second;
* ``broker outage`` and ``database outage``: 50 events a second and the
  evaluator's connections cut for 15 s by a TCP proxy (the servers stay
  up);
* ``evaluator kill -9``: 200 events a second, the evaluator killed with a
  backlog and started again.

The notifier, consumer and inspector scenarios are run by their own
functional tests (``test_delivery_outage``, ``test_inspector_resume``).

Needs RabbitMQ and PostgreSQL on 127.0.0.1, as the functional tests do::

    .venv/bin/python tools/bench/no_alarm_lost.py \\
        --json doc/source/performance/no-alarm-lost.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

MODULE = 'doctor.tests.functional.test_no_alarm_lost.TestNoAlarmLost'

# name, test, alarms, rounds, events a second, outage seconds, and what
# was measured before the change (events expected / transitions stored).
SCENARIOS = [
    ('no fault', 'test_no_fault', 200, 12, 200, 0, '2,400 / 2,289'),
    ('broker outage 15 s', 'test_broker_outage', 50, 80, 50, 15,
     '4,000 / 3,982'),
    ('database outage 15 s', 'test_database_outage', 50, 80, 50, 15,
     '4,000 / 2,898'),
    ('evaluator kill -9', 'test_evaluator_kill_9_with_a_backlog', 200, 12,
     200, 0, '2,400 / 1,379'),
]

COLUMNS = [
    ('events published', 'events'),
    ('transitions stored', 'stored'),
    ('transitions lost', 'lost'),
    ('webhooks received', 'webhooks'),
    ('webhooks lost', 'w. lost'),
    ('webhooks duplicated', 'dupl.'),
    ('alarms in a wrong state', 'wrong'),
    ('quiet_after_fault_seconds', 'quiet (s)'),
]


def run(name: str, test: str, scale: tuple, ledger: str) -> dict:
    env = dict(os.environ,
               DOCTOR_FAULT_SCALE=','.join(str(value) for value in scale),
               DOCTOR_FAULT_LEDGER=ledger, DOCTOR_REQUIRE_SERVICES='1')
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, '-m', 'testtools.run', '%s.%s' % (MODULE, test)],
        env=env, capture_output=True, text=True)
    with open(ledger) as f:
        records = [json.loads(line) for line in f if line.strip()]
    found = next((r for r in records if r['scenario'] == test), None)
    if found is None:
        sys.stderr.write(result.stdout[-5000:] + result.stderr[-5000:])
        raise SystemExit('%s: no ledger written' % name)
    found['name'] = name
    found['passed'] = result.returncode == 0
    found['run_seconds'] = round(time.monotonic() - started, 1)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--json', help='also write the results here')
    parser.add_argument('--only', action='append',
                        help='run only the scenarios whose name has this')
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as directory:
        ledger = os.path.join(directory, 'ledger.jsonl')
        open(ledger, 'w').close()
        for name, test, alarms, rounds, rate, outage, before in SCENARIOS:
            if args.only and not any(word in name for word in args.only):
                continue
            print('%s: %d alarms x %d rounds at %d events/s%s ...'
                  % (name, alarms, rounds, rate,
                     ', outage %d s' % outage if outage else ''),
                  flush=True)
            found = run(name, test, (alarms, rounds, rate, outage), ledger)
            found['before'] = before
            results.append(found)
    header = ['scenario', 'before: expected / stored'] + [
        short for _key, short in COLUMNS] + ['passed']
    print()
    print(' | '.join(header))
    for found in results:
        print(' | '.join([found['name'], found['before']]
                         + [str(found[key]) for key, _short in COLUMNS]
                         + ['yes' if found['passed'] else 'NO']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'command': ' '.join(sys.argv), 'results': results},
                      f, indent=2)
            f.write('\n')


if __name__ == '__main__':
    main()
