"""The heartbeat records of the HA guests in the database."""

import datetime

from doctor.tests import base


def record(instance_id: str, status: str = 'ok', **fields) -> dict:
    values = {'instance_id': instance_id, 'host': 'c0', 'project_id': 'p1',
              'interval_ms': 1000, 'threshold': 3, 'status': status,
              'reason': None,
              'last_seen': datetime.datetime(2026, 12, 7, 10, 0, 0, 123456)}
    values.update(fields)
    return values


class TestHeartbeats(base.DBTestCase):

    def test_put_inserts_then_replaces(self):
        self.db.put_heartbeats([record('i1'), record('i2', project_id='p2')])
        self.db.put_heartbeats([record('i1', 'missed',
                                       reason='missed 3 heartbeats')])

        found = self.db.get_heartbeat('i1')
        self.assertEqual(('missed', 'missed 3 heartbeats', 'p1'),
                         (found['status'], found['reason'],
                          found['project_id']))
        self.assertEqual(123456, found['last_seen'].microsecond)
        self.assertIsNotNone(found['updated_at'])
        self.assertEqual(['i1', 'i2'],
                         [r['instance_id'] for r in self.db.get_heartbeats()])

    def test_filters(self):
        self.db.put_heartbeats([record('i1'), record('i2', project_id='p2'),
                                record('i3', 'missed', host='c1')])
        ids = lambda **f: [r['instance_id']  # noqa: E731
                           for r in self.db.get_heartbeats(**f)]
        self.assertEqual(['i1', 'i3'], ids(project_id='p1'))
        self.assertEqual(['i3'], ids(host='c1'))
        self.assertEqual(['i3'], ids(status='missed'))
        self.assertEqual([], ids(project_id='p2', status='missed'))

    def test_delete(self):
        self.db.put_heartbeats([record('i1'), record('i2')])
        self.db.delete_heartbeats(['i1'])
        self.assertIsNone(self.db.get_heartbeat('i1'))
        self.assertIsNotNone(self.db.get_heartbeat('i2'))
