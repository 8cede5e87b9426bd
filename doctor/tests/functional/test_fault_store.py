"""The inspector's fault store on SQLite, PostgreSQL and MariaDB.

One set of tests, run on each backend by the subclasses at the end.
"""

import datetime
import threading
from unittest import mock

from oslo_utils import timeutils
from oslo_utils import uuidutils

from doctor.common import exception
from doctor.db import api as db_api
from doctor.db.sqlalchemy import faults
from doctor.tests.functional import base

T0 = datetime.datetime(2026, 11, 22, 10, 0, 0, 123456)
WINDOW = datetime.timedelta(seconds=10)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def report(event_id: str, monitor: str = 'm1') -> dict:
    return {'id': event_id, 'time': '2026-11-22T10:00:00.000100+00:00',
            'monitor': monitor, 'monitor_event_id': 'me-' + event_id,
            'received_at': '2026-11-22T10:00:00.000200+00:00'}


def new_fault(host: str, when: float, event_id: str = 'e1',
              fault_id: str | None = None, detected_at=None) -> dict:
    return {'id': fault_id or uuidutils.generate_uuid(), 'host': host,
            'type': 'compute.host.down', 'created_at': at(when),
            'detected_at': detected_at,
            'checkpoints': [{'number': 0, 'name': 'hostdown',
                             'component': 'm1',
                             'timestamp': '2026-11-22T10:00:00+00:00'}],
            'reports': [report(event_id)]}


class SQLiteFaultStoreTest(base.FunctionalTestCase):
    """The fault store on the embedded default, SQLite."""

    backend = 'sqlite'

    def setUp(self):
        super().setUp()
        self.db = self.use_database(self.backend)

    def create(self, host: str, when: float, event_id: str = 'e1',
               **kwargs) -> tuple[dict, bool]:
        """Report ``host`` down at ``when``, WINDOW after the last fault."""
        fault = new_fault(host, when, event_id, **kwargs)
        return self.db.create_fault(fault,
                                    duplicate_after=at(when) - WINDOW)

    def report_ids(self, fault_id: str) -> list[str]:
        return [r['id'] for r in self.db.get_fault(fault_id)['reports']]

    def _connection(self) -> db_api.Connection:
        """Another connection to the database, as another replica has."""
        connection = db_api.get_connection(self.conf)
        self.addCleanup(connection.close)
        return connection

    # creating

    def test_create_then_get(self):
        fault = new_fault('compute-0', 0, fault_id='f-1')
        stored, created = self.db.create_fault(fault, at(-10))
        self.assertTrue(created)
        expected = {
            'id': 'f-1', 'host': 'compute-0', 'type': 'compute.host.down',
            'status': 'open', 'created_at': at(0), 'closed_at': None,
            'affected': [], 'actions': [],
            'checkpoints': fault['checkpoints'],
            'reports': fault['reports'],
            # Stored without steps or owner: nothing for an inspector to
            # run or resume.
            'steps': [], 'done': [], 'owner': None, 'heartbeat_at': None,
            'handled_at': None, 'resumes': []}
        self.assertEqual(expected, stored)
        self.assertEqual(expected, self.db.get_fault('f-1'))
        self.assertEqual({'compute-0': expected}, self.db.get_open_faults())

    def test_duplicate_within_the_window_of_a_closed_fault(self):
        first, _created = self.create('compute-0', 0)
        self.db.close_fault('compute-0', at(2))
        again, created = self.create('compute-0', 5, 'e2')
        self.assertFalse(created)
        self.assertEqual(first['id'], again['id'])
        self.assertEqual('closed', again['status'])
        self.assertEqual(['e1', 'e2'], [r['id'] for r in again['reports']])
        self.assertEqual(['e1', 'e2'], self.report_ids(first['id']))
        self.assertEqual({}, self.db.get_open_faults())

    def test_a_failure_detected_after_the_recovery_is_a_new_fault(self):
        first, _created = self.create('compute-0', 0)
        self.db.close_fault('compute-0', at(2))
        late, created = self.create('compute-0', 3, 'late',
                                    detected_at=at(1))
        self.assertEqual((first['id'], False), (late['id'], created))
        new, created = self.create('compute-0', 5, 'new',
                                   detected_at=at(4))
        self.assertTrue(created)
        self.assertNotEqual(first['id'], new['id'])
        self.assertEqual(['e1', 'late'], self.report_ids(first['id']))

    def test_duplicate_while_open_long_after_the_window(self):
        first, _created = self.create('compute-0', 0)
        again, created = self.create('compute-0', 3600, 'e2')
        self.assertFalse(created)
        self.assertEqual(first['id'], again['id'])
        self.assertEqual(['e1', 'e2'], self.report_ids(first['id']))

    def test_new_fault_once_closed_and_past_the_window(self):
        first, _created = self.create('compute-0', 0)
        self.db.close_fault('compute-0', at(1))
        second, created = self.create('compute-0', 11, 'e2')
        self.assertTrue(created)
        self.assertNotEqual(first['id'], second['id'])
        self.assertEqual(['e1'], self.report_ids(first['id']))
        self.assertEqual(['e2'], self.report_ids(second['id']))
        self.assertEqual(second['id'],
                         self.db.get_open_faults()['compute-0']['id'])

    def test_a_window_of_zero_makes_a_new_fault_once_closed(self):
        first, _created = self.create('compute-0', 0)
        self.db.close_fault('compute-0', at(0))
        second, created = self.db.create_fault(
            new_fault('compute-0', 0.000001, 'e2'), at(0.000001))
        self.assertTrue(created)
        self.assertNotEqual(first['id'], second['id'])

    def test_the_open_fault_wins_over_a_recent_closed_one(self):
        self.create('compute-0', 0)
        self.db.close_fault('compute-0', at(1))
        opened, _created = self.db.create_fault(
            new_fault('compute-0', 2, 'e2'), at(1.5))
        again, created = self.create('compute-0', 3, 'e3')
        self.assertFalse(created)
        self.assertEqual(opened['id'], again['id'])
        self.assertEqual(['e2', 'e3'], self.report_ids(opened['id']))

    def test_hosts_have_faults_of_their_own(self):
        first, _created = self.create('compute-0', 0)
        other, created = self.create('compute-1', 0, 'e2')
        self.assertTrue(created)
        self.assertNotEqual(first['id'], other['id'])
        self.assertEqual({'compute-0': first['id'],
                          'compute-1': other['id']},
                         {host: fault['id'] for host, fault
                          in self.db.get_open_faults().items()})

    def test_a_fault_keeps_its_first_report_and_the_newest(self):
        first, _created = self.create('compute-0', 0)
        with mock.patch.object(faults, 'MAX_REPORTS', 3):
            for n in range(2, 6):
                self.create('compute-0', n, 'e%d' % n)
        self.assertEqual(['e1', 'e4', 'e5'], self.report_ids(first['id']))

    def test_replicas_racing_for_one_host_open_one_fault(self):
        connections = [self._connection() for _ in range(2)]
        barrier = threading.Barrier(2)
        looked = threading.local()
        lookups: list[str] = []
        original = faults._current_fault

        def after_both_looked(connection, host, duplicate_after,
                              detected_at):
            # Each replica finds no fault before either inserts its own,
            # so that both try to insert: the database must refuse one.
            found = original(connection, host, duplicate_after,
                             detected_at)
            lookups.append(threading.current_thread().name)
            if not getattr(looked, 'once', False):
                looked.once = True
                barrier.wait(10)
            return found

        results: list = [None, None]
        errors: list = []

        def create(i: int) -> None:
            try:
                results[i] = connections[i].create_fault(
                    new_fault('compute-0', 1, 'e%d' % i), at(-9))
            except Exception as e:  # reported below
                errors.append(e)

        forced = self.backend != 'sqlite'
        if forced:
            patcher = mock.patch.object(faults, '_current_fault',
                                        autospec=True,
                                        side_effect=after_both_looked)
            patcher.start()
            self.addCleanup(patcher.stop)
        threads = [threading.Thread(target=create, args=(i,))
                   for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual([], errors)
        self.assertEqual(1, len({fault['id'] for fault, _ in results}))
        self.assertEqual([False, True],
                         sorted(created for _fault, created in results))
        [stored] = self.db.get_faults(host='compute-0')
        self.assertEqual(['e0', 'e1'],
                         sorted(r['id'] for r in stored['reports']))
        if forced:
            # Both looked and found nothing; the loser looked again.
            self.assertEqual(3, len(lookups))

    # updating and closing

    def test_update_replaces_what_is_recorded(self):
        fault, _created = self.create('compute-0', 0)
        checkpoints = fault['checkpoints'] + [
            {'number': 1, 'name': 'raw_failure_received',
             'component': 'inspector',
             'timestamp': '2026-11-22T10:00:00.000300+00:00'}]
        affected = [{'type': 'instance', 'id': 'i1', 'project_id': 'p1',
                     'state': 'active', 'action': 'set error'}]
        actions = [{'name': 'set_instance_state', 'target': 'instance:i1',
                    'controller': 'local', 'result': 'ok',
                    'duration_ms': 1.25, 'attempts': 1,
                    'started_at': '2026-11-22T10:00:00.000400+00:00'}]
        self.db.update_fault(fault['id'], {'affected': affected,
                                           'actions': actions,
                                           'checkpoints': checkpoints})
        stored = self.db.get_fault(fault['id'])
        self.assertEqual((affected, actions, checkpoints),
                         (stored['affected'], stored['actions'],
                          stored['checkpoints']))
        self.assertEqual(fault['reports'], stored['reports'])
        self.db.update_fault(fault['id'], {'actions': []})
        stored = self.db.get_fault(fault['id'])
        self.assertEqual(([], affected),
                         (stored['actions'], stored['affected']))

    def test_update_of_an_unknown_fault(self):
        self.assertRaises(exception.FaultNotFound, self.db.update_fault,
                          'nope', {'actions': []})
        self.assertRaises(exception.FaultNotFound, self.db.update_fault,
                          'nope', {})

    def test_update_refuses_other_fields(self):
        fault, _created = self.create('compute-0', 0)
        self.assertRaises(ValueError, self.db.update_fault, fault['id'],
                          {'status': 'closed'})
        self.assertEqual('open', self.db.get_fault(fault['id'])['status'])

    def test_a_large_record(self):
        # Thousands of instances on a host: more than MySQL's TEXT holds.
        fault, _created = self.create('compute-0', 0)
        affected = [{'type': 'instance', 'id': uuidutils.generate_uuid(),
                     'project_id': uuidutils.generate_uuid(),
                     'state': 'active', 'action': 'set error'}
                    for _ in range(2000)]
        self.db.update_fault(fault['id'], {'affected': affected,
                                           'actions': affected})
        stored = self.db.get_fault(fault['id'])
        self.assertEqual(affected, stored['affected'])
        self.assertEqual(affected, stored['actions'])

    def test_close(self):
        fault, _created = self.create('compute-0', 0)
        closed = self.db.close_fault('compute-0', at(30))
        self.assertEqual(dict(fault, status='closed', closed_at=at(30)),
                         closed)
        self.assertEqual(closed, self.db.get_fault(fault['id']))
        self.assertEqual({}, self.db.get_open_faults())
        self.assertIsNone(self.db.close_fault('compute-0', at(31)))

    def test_close_of_a_host_without_fault(self):
        self.create('compute-0', 0)
        self.assertIsNone(self.db.close_fault('compute-1', at(1)))
        self.assertEqual(['compute-0'], list(self.db.get_open_faults()))

    def test_times_may_be_aware(self):
        fault = new_fault('compute-0', 0)
        fault['created_at'] = at(0).replace(tzinfo=datetime.timezone.utc)
        stored, _created = self.db.create_fault(
            fault, at(-10).replace(tzinfo=datetime.timezone.utc))
        self.assertEqual(at(0), self.db.get_fault(stored['id'])
                         ['created_at'])
        closed = self.db.close_fault(
            'compute-0', at(5).astimezone(
                datetime.timezone(datetime.timedelta(hours=2))))
        self.assertEqual(at(5), closed['closed_at'])

    def test_timestamps_keep_their_microseconds(self):
        now = timeutils.utcnow()
        fault = new_fault('compute-0', 0)
        fault['created_at'] = now
        stored, _created = self.db.create_fault(fault, now - WINDOW)
        self.assertEqual(now, self.db.get_fault(stored['id'])['created_at'])

    # reading

    def test_get_of_an_unknown_fault(self):
        error = self.assertRaises(exception.FaultNotFound,
                                  self.db.get_fault, 'nope')
        self.assertEqual(404, error.code)
        self.assertIn('nope', str(error))

    def test_open_faults_of_some_hosts(self):
        for n in range(3):
            self.create('compute-%d' % n, 0, 'e%d' % n)
        self.db.close_fault('compute-2', at(1))
        self.assertEqual(['compute-1'], list(self.db.get_open_faults(
            ['compute-1', 'compute-2', 'compute-9'])))
        self.assertEqual({}, self.db.get_open_faults([]))
        self.assertEqual(['compute-0', 'compute-1'],
                         sorted(self.db.get_open_faults(
                             'compute-%d' % n for n in range(1200))))

    def test_list_filters_and_pages_newest_first(self):
        ids = {}
        for n, host in enumerate(['compute-0', 'compute-1', 'compute-0']):
            fault, _created = self.create(host, 20 * n, 'e%d' % n)
            ids[n] = fault['id']
            if n == 0:
                self.db.close_fault(host, at(1))

        def listed(**kwargs) -> list[str]:
            return [fault['id'] for fault in self.db.get_faults(**kwargs)]

        self.assertEqual([ids[2], ids[1], ids[0]], listed())
        self.assertEqual([ids[2], ids[0]], listed(host='compute-0'))
        self.assertEqual([ids[0]], listed(status='closed'))
        self.assertEqual([ids[2]], listed(host='compute-0', status='open'))
        self.assertEqual([ids[2], ids[1]], listed(limit=2))
        self.assertEqual([ids[0]], listed(limit=2, marker=ids[1]))
        self.assertEqual([], listed(marker=ids[0]))
        self.assertRaises(exception.FaultNotFound, self.db.get_faults,
                          marker='nope')

    def test_list_pages_faults_of_the_same_time(self):
        made = sorted(self.create('compute-%d' % n, 0, 'e%d' % n)[0]['id']
                      for n in range(3))
        first = self.db.get_faults(limit=2)
        rest = self.db.get_faults(marker=first[-1]['id'])
        self.assertEqual(list(reversed(made)),
                         [fault['id'] for fault in first + rest])


class PostgreSQLFaultStoreTest(SQLiteFaultStoreTest):
    """The fault store on PostgreSQL."""

    backend = 'postgresql'


class MariaDBFaultStoreTest(SQLiteFaultStoreTest):
    """The fault store on MariaDB (MySQL)."""

    backend = 'mysql'
