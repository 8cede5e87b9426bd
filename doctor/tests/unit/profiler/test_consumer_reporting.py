"""The sample consumer reports checkpoints 9 and 10 of each alarm."""

import json
from unittest import mock

from keystoneauth1 import session as ks_session
import testtools
import webob

from doctor.consumer import app
from doctor.profiler import recorder as recorder_mod
from doctor.profiler import reporter

ALARM = {'alarm_id': 'a-1', 'alarm_name': 'InstanceStatusAlarm',
         'current': 'alarm', 'previous': 'ok', 'severity': 'moderate',
         'reason': 'r', 'reason_data': {}, 'fault_id': 'f-1'}


class TestConsumerReporting(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.session = mock.create_autospec(ks_session.Session,
                                            instance=True)
        self.session.post.return_value = mock.Mock(status_code=201,
                                                   text='')
        self.recorder = recorder_mod.Recorder(
            reporter.http_writer(self.session, 'http://api:12345/',
                                 {'X-Roles': 'admin'}), interval=3600)
        self.consumer = app.Consumer(recorder=self.recorder)

    def deliver(self, body: dict) -> webob.Response:
        request = webob.Request.blank('/failure', method='POST')
        request.body = json.dumps(body).encode()
        return request.get_response(self.consumer)

    def test_received_and_handled_posted_to_the_fault(self):
        self.assertEqual(200, self.deliver(ALARM).status_int)
        self.deliver(dict(ALARM, alarm_id='a-2'))

        self.recorder.flush()

        self.session.post.assert_called_once_with(
            'http://api:12345/v1/faults/f-1/checkpoints',
            json=mock.ANY, headers={'X-Roles': 'admin'}, raise_exc=False)
        posted = self.session.post.call_args.kwargs['json']['checkpoints']
        self.assertEqual(
            [('received_alarm', 'a-1'), ('handled_alarm', 'a-1'),
             ('received_alarm', 'a-2'), ('handled_alarm', 'a-2')],
            [(entry['name'], entry['alarm_id']) for entry in posted])
        self.assertLessEqual(posted[0]['timestamp'], posted[1]['timestamp'])

    def test_an_alarm_of_no_fault_reports_nothing(self):
        body = dict(ALARM)
        del body['fault_id']
        self.deliver(body)

        self.assertEqual(0, self.recorder.flush())
        self.session.post.assert_not_called()
