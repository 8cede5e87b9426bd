"""HA guest heartbeats: detection time and the compute agent's CPU.

For each heartbeat interval (``--intervals-ms``, 100 and 1000 by default)
a fresh run: doctor-all on its embedded default in this process, one
doctor-compute-agent process, and ``--guests`` guest agents (the library's
GuestAgent, all in one process of their own, each over its own UNIX
socket). Every guest registers with the interval and ``--threshold``;
each instance has a tenant alarm on its state turning ``error``, whose
webhook is a receiver in this process.

* CPU: the compute agent's user + system CPU time over ``--cpu-window``
  seconds while every guest answers, per guest, as a share of one core.
* Detection: ``--trials`` guests, one after the other, stop answering
  challenges (a hung guest: the channel stays connected); the time from
  the last answer it sent to its alarm reaching the webhook, p50 and p99.

Not a test: it asserts nothing; ``--json FILE`` writes the figures.
"""

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

PROJECT = 'be4c0000000040008000000000000001'
HOST = 'bench-0'


def instance_id(index: int) -> str:
    return 'be4c0000-0000-4000-8000-%012d' % index


# The guests' process.

def guests_main(channel_dir: str, count: int, interval_ms: int,
                threshold: int) -> None:
    """Run ``count`` guests; on stdin, ``hang N`` stops guest N answering
    and prints ``N <wall time of its last answer>``.
    """
    from doctor.heartbeat import guest

    class Guest(guest.GuestAgent):
        hung = False
        last: float | None = None

        def _send(self, app, msg, body, strict=False):
            if msg == 'response':
                if self.hung:
                    return
                super()._send(app, msg, body, strict)
                self.last = time.time()
                return
            super()._send(app, msg, body, strict)

    guests = []
    for index in range(count):
        agent = Guest(guest.UNIX_LISTEN + os.path.join(
            channel_dir, instance_id(index) + '.sock'), interval_ms,
            threshold)
        agent.register()
        agent.start()
        guests.append(agent)
    print('ready', flush=True)
    for line in sys.stdin:
        index = int(line.split()[1])
        agent = guests[index]
        agent.hung = True
        # The answer being written when it hung counts as its last.
        time.sleep(0.001)
        print('%d %.6f' % (index, agent.last or 0.0), flush=True)


# This process: doctor-all, the webhook, the measurements.

class Webhook(http.server.BaseHTTPRequestHandler):
    received: dict[str, float] = {}

    def do_POST(self) -> None:
        when = time.time()
        length = int(self.headers.get('Content-Length') or 0)
        body = json.loads(self.rfile.read(length))
        if body.get('current') == 'alarm':
            self.received.setdefault(body['alarm_id'], when)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def call(api: str, method: str, path: str, body=None):
    request = urllib.request.Request(
        api + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={'Content-Type': 'application/json',
                 'X-Project-Id': PROJECT, 'X-User-Id': 'bench',
                 'X-Roles': 'admin'})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b'null')


def _children(pid: int) -> list[int]:
    found = []
    for task in os.listdir('/proc/%d/task' % pid):
        with open('/proc/%d/task/%s/children' % (pid, task)) as f:
            found.extend(int(child) for child in f.read().split())
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid``, its threads and its
    descendants (oslo.service runs the agent in a worker process).
    """
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    return own + sum(cpu_seconds(child) for child in _children(pid))


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.01)
    raise RuntimeError('timed out waiting for %s' % what)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1,
                       max(0, round(share * len(ordered)) - 1))]


def run(interval_ms: int, guests: int, threshold: int, trials: int,
        cpu_window: float, workdir: str) -> dict:
    from oslo_config import cfg

    from doctor.api import service as api_service
    from doctor.cmd import all as all_cmd
    from doctor.common import rpc
    from doctor.common import service as doctor_service
    from doctor.db import api as db_api

    state = tempfile.mkdtemp(prefix='ha-guest-%d-' % interval_ms,
                             dir=workdir)
    channel_dir = os.path.join(state, 'channels')
    os.mkdir(channel_dir)
    inventory = os.path.join(state, 'inventory.yaml')
    with open(inventory, 'w') as f:
        f.write('hosts:\n  - name: %s\n    instances:\n' % HOST)
        for index in range(guests):
            f.write('      - {id: %s, project_id: %s}\n'
                    % (instance_id(index), PROJECT))
    conf = cfg.ConfigOpts()
    conf.register_cli_opts(all_cmd.CLI_OPTS)
    doctor_service.prepare_service(
        ['--log-file', os.path.join(state, 'doctor-all.log')], conf=conf,
        default_config_files=[])
    conf.set_override('state_path', state)
    conf.set_override('port', 0, group='api')
    conf.set_override('inventory', inventory, group='static')
    conf.set_override('snapshot_interval', 0.2, group='static')
    conf.set_override('allowed_networks', ['127.0.0.0/8'], group='notifier')
    connection = db_api.get_connection(conf)
    connection.upgrade()
    group = all_cmd.build(conf)
    group.start()
    processes: list[subprocess.Popen] = []
    try:
        [api_svc] = [s for s in group.services
                     if isinstance(s, api_service.APIService)]
        api = 'http://127.0.0.1:%d' % api_svc.port
        wait_for(lambda: len(connection.get_entities(
            entity_type='instance')) == guests, 60, 'the inventory')
        Webhook.received = {}
        webhook = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Webhook)
        threading.Thread(target=webhook.serve_forever, daemon=True).start()
        hook = 'http://127.0.0.1:%d/alarm' % webhook.server_port
        alarms = {}
        for index in range(trials):
            alarm = call(api, 'POST', '/v1/alarms', {
                'name': 'guest-%d-down' % index, 'type': 'notification',
                'resource_id': instance_id(index),
                'notification_rule': {
                    'event_type': 'compute.instance.update',
                    'query': [{'field': 'traits.state', 'op': 'eq',
                               'value': 'error', 'type': 'string'}]},
                'alarm_actions': [hook]})
            alarms[index] = alarm['alarm_id']

        guest_log = open(os.path.join(state, 'guests.log'), 'wb')
        guests_process = subprocess.Popen(
            [sys.executable, __file__, '--guests-process', channel_dir,
             str(guests), str(interval_ms), str(threshold)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=guest_log,
            text=True)
        processes.append(guests_process)
        assert guests_process.stdout is not None
        assert guests_process.stdin is not None
        guests_process.stdout.readline()
        agent_conf = os.path.join(state, 'compute-agent.conf')
        with open(agent_conf, 'w') as f:
            f.write('[DEFAULT]\nhost = %s\nstate_path = %s\nlog_file = %s\n'
                    '[database]\nconnection = %s\nmax_pool_size = 1\n'
                    '[compute_agent]\nchannel_dir = %s\napi_url = %s\n'
                    'min_interval_ms = %d\n'
                    % (HOST, state, os.path.join(state, 'agent.log'),
                       connection.engine.url.render_as_string(
                           hide_password=False),
                       channel_dir, api, min(interval_ms, 100)))
        agent = subprocess.Popen(
            [sys.executable, '-c', 'from doctor.cmd.compute_agent import '
             'main; main()', '--config-file', agent_conf],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(agent)
        wait_for(lambda: len(connection.get_heartbeats(status='ok'))
                 == guests, 120, 'every guest registered')

        # The agent's CPU while every guest answers.
        time.sleep(max(2.0, 3 * interval_ms / 1000.0))
        before, started = cpu_seconds(agent.pid), time.monotonic()
        time.sleep(cpu_window)
        used = cpu_seconds(agent.pid) - before
        elapsed = time.monotonic() - started
        cpu_share = used / elapsed

        detections = []
        for index in range(trials):
            guests_process.stdin.write('hang %d\n' % index)
            guests_process.stdin.flush()
            _, last = guests_process.stdout.readline().split()
            alarm_id = alarms[index]
            received = wait_for(lambda: Webhook.received.get(alarm_id),
                                60 + 10 * threshold * interval_ms / 1000.0,
                                'the alarm of guest %d' % index)
            detections.append(received - float(last))
        webhook.shutdown()
        return {
            'interval_ms': interval_ms, 'threshold': threshold,
            'guests': guests, 'trials': trials,
            'bound_s': (threshold + 1) * interval_ms / 1000.0,
            'detection_p50_s': round(percentile(detections, 0.50), 3),
            'detection_p99_s': round(percentile(detections, 0.99), 3),
            'detection_min_s': round(min(detections), 3),
            'detection_max_s': round(max(detections), 3),
            'detection_mean_s': round(statistics.mean(detections), 3),
            'agent_cpu_percent_of_a_core': round(100 * cpu_share, 2),
            'agent_cpu_percent_per_guest': round(100 * cpu_share / guests,
                                                 4),
            'cpu_window_s': round(elapsed, 1),
        }
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        group.stop()
        connection.close()
        rpc.cleanup()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == '--guests-process':
        channel_dir, count, interval, threshold = sys.argv[2:6]
        guests_main(channel_dir, int(count), int(interval), int(threshold))
        return
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--intervals-ms', type=int, nargs='+',
                        default=[100, 1000])
    parser.add_argument('--guests', type=int, default=100)
    parser.add_argument('--threshold', type=int, default=3)
    parser.add_argument('--trials', type=int, default=30)
    parser.add_argument('--cpu-window', type=float, default=20.0)
    parser.add_argument('--workdir', default=tempfile.gettempdir())
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args()
    results = []
    for interval in args.intervals_ms:
        result = run(interval, args.guests, args.threshold, args.trials,
                     args.cpu_window, args.workdir)
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'runs': results,
                       'command': ' '.join(['tools/bench/ha_guest.py']
                                           + sys.argv[1:])}, f, indent=2)
            f.write('\n')


if __name__ == '__main__':
    main()
