"""The server-group router: which compute agent gets which message."""

import datetime
from unittest import mock

import oslo_messaging as messaging

from doctor.heartbeat import agent as agent_mod
from doctor.heartbeat import manager
from doctor.heartbeat import reporting
from doctor.heartbeat import router as router_mod
from doctor.heartbeat import rpcapi
from doctor.objects import guest as guest_obj
from doctor.tests import base
from doctor.tests.unit.heartbeat import test_agent

GROUP = 'server_group:g1'
HOSTS = {'a': 'compute-0', 'b': 'compute-0', 'c': 'compute-1',
         'd': 'compute-2'}
WHEN = datetime.datetime(2026, 12, 7, 10, 0, 0)


def change(instance_id: str, state: str | None, action: str = 'update',
           parents: tuple[str, ...] = ('host:compute-0', GROUP),
           when: datetime.datetime = WHEN) -> dict:
    return {'key': 'instance:' + instance_id, 'type': 'instance',
            'id': instance_id, 'action': action, 'state': state,
            'parents': list(parents) if action != 'delete' else [],
            'timestamp': when}


class RouterTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.membership = mock.create_autospec(reporting.Membership,
                                               instance=True)
        group = ['a', 'b', 'c', 'd']
        self.membership.members.side_effect = (
            lambda instance_id: group if instance_id in group else [])
        self.membership.group_members.return_value = group
        self.agents = mock.create_autospec(rpcapi.ComputeAgentAPI,
                                           instance=True)
        self.agents.deliver.side_effect = (
            lambda context, host, message, wait: len(message.recipients)
            if wait else None)
        self.router = router_mod.GuestRouter(self.membership, HOSTS.get,
                                             self.agents)

    def sent(self) -> dict[str, tuple]:
        return {call.args[1]: (call.args[2].kind, call.args[2].message_id,
                               call.args[2].recipients, call.args[3])
                for call in self.agents.deliver.call_args_list}

    @staticmethod
    def message(sender: str = 'a') -> guest_obj.GuestMessage:
        return guest_obj.GuestMessage(
            kind=guest_obj.MESSAGE, message_id='m-1', sender=sender,
            body={'from': sender, 'id': 'x', 'data': 1})


class TestRoute(RouterTestCase):

    def test_a_broadcast_goes_to_every_other_host_of_a_member(self):
        delivered = manager.GuestRouterManager(self.router).broadcast(
            None, self.message(), 'compute-0')
        self.assertEqual(2, delivered)
        self.assertEqual({'compute-1': ('message', 'm-1', ['c'], True),
                          'compute-2': ('message', 'm-1', ['d'], True)},
                         self.sent())

    def test_members_of_the_sender_s_host_are_named_when_not_excluded(self):
        self.router.route(self.message('c'), exclude_host=None, wait=False)
        self.assertEqual(['a', 'b'], self.sent()['compute-0'][2])
        self.assertNotIn('compute-1', self.sent())

    def test_a_sender_in_no_group_gets_none(self):
        self.assertIsNone(self.router.route(self.message('x'), None, True))
        self.agents.deliver.assert_not_called()

    def test_a_member_without_a_channel_is_skipped(self):
        self.router.locate = {'a': 'compute-0', 'c': 'compute-1'}.get
        self.assertEqual(1, self.router.route(self.message(), 'compute-0',
                                              True))
        self.assertEqual(['compute-1'], list(self.sent()))

    def test_an_unreachable_agent_costs_the_others_nothing(self):
        def deliver(context, host, message, wait):
            if host == 'compute-1':
                raise messaging.MessagingTimeout('no reply')
            return len(message.recipients)
        self.agents.deliver.side_effect = deliver
        self.assertEqual(1, self.router.route(self.message(), 'compute-0',
                                              True))
        self.assertEqual({'compute-1', 'compute-2'}, set(self.sent()))


class TestEntityChanges(RouterTestCase):

    def test_a_member_s_new_state_reaches_every_other_member(self):
        self.router.entities_changed([change('a', 'error')])
        sent = self.sent()
        self.assertEqual({'compute-0', 'compute-1', 'compute-2'}, set(sent))
        self.assertEqual(['b'], sent['compute-0'][2])
        [message] = [call.args[2] for call in
                     self.agents.deliver.call_args_list
                     if call.args[1] == 'compute-1']
        self.assertEqual('peer_state', message.kind)
        self.assertEqual({'instance_id': 'a', 'state': 'error',
                          'reason': 'instance error', 'source': 'instance'},
                         message.body)
        self.membership.group_members.assert_called_with(GROUP)

    def test_every_router_gives_one_change_the_same_id(self):
        other = router_mod.GuestRouter(self.membership, HOSTS.get,
                                       self.agents)
        self.router.entities_changed([change('a', 'error')])
        other.entities_changed([change('a', 'error')])
        ids = {call.args[2].message_id
               for call in self.agents.deliver.call_args_list}
        self.assertEqual(1, len(ids))

    def test_a_change_that_keeps_the_state_is_not_announced(self):
        self.router.entities_changed([change('a', 'active')])
        self.agents.deliver.reset_mock()
        self.router.entities_changed([
            change('a', 'active', when=WHEN + datetime.timedelta(1))])
        self.agents.deliver.assert_not_called()

    def test_an_instance_in_no_group_is_not_announced(self):
        self.router.entities_changed([change('a', 'error',
                                             parents=('host:compute-0',))])
        self.agents.deliver.assert_not_called()

    def test_a_deleted_member_is_announced_to_its_last_group(self):
        self.router.entities_changed([change('a', 'active')])
        self.agents.deliver.reset_mock()
        self.router.entities_changed([change('a', None, action='delete')])
        self.assertEqual('deleted',
                         self.agents.deliver.call_args.args[2].body['state'])


class FakeRemote:
    """The router of the other hosts, as a compute agent sees it."""

    def __init__(self, delivered: int | None) -> None:
        self.delivered = delivered
        self.broadcasts: list[tuple] = []
        self.states: list[tuple] = []

    def broadcast(self, sender, message_id, body):
        self.broadcasts.append((sender, message_id, body))
        return self.delivered

    def peer_state(self, sender, message_id, body):
        self.states.append((sender, message_id, body))


class TestAgentWithARemote(test_agent.AgentTestCase):

    def make_remote_agent(self, remote: FakeRemote
                          ) -> agent_mod.ComputeAgent:
        compute = agent_mod.ComputeAgent(
            self.channel_dir, 'compute-0', test_agent.LIMITS,
            lambda *args: None, lambda *args: None,
            lambda i: ['a', 'b', 'c'] if i in 'abc' else [],
            lambda i: None, remote)
        compute.start()
        self.addCleanup(compute.stop)
        return compute

    def test_the_ack_counts_the_members_elsewhere(self):
        remote = FakeRemote(delivered=1)
        self.make_remote_agent(remote)
        acks: list[dict] = []
        received: list[dict] = []
        a = self.make_guest('a', threshold=50)
        b = self.make_guest('b', threshold=50)
        a.on_ack(acks.append)
        b.on_message(received.append)
        self.assertTrue(a.registered.wait(20))
        self.assertTrue(b.registered.wait(20))
        message_id = a.broadcast({'x': 1})
        self.assertTrue(test_agent.wait_for(lambda: acks))
        self.assertEqual([{'id': message_id, 'delivered': 2}], acks)
        self.assertTrue(test_agent.wait_for(lambda: received))
        [(sender, _, body)] = remote.broadcasts
        self.assertEqual(('a', {'from': 'a', 'id': message_id,
                                'data': {'x': 1}}), (sender, body))

    def test_a_state_change_goes_to_the_remote_router_too(self):
        remote = FakeRemote(delivered=0)
        self.make_remote_agent(remote)
        a = self.make_guest('a', threshold=50)
        self.assertTrue(a.registered.wait(20))
        self.assertTrue(test_agent.wait_for(lambda: remote.states))
        self.assertEqual(('a', 'ok'), (remote.states[0][0],
                                       remote.states[0][2]['state']))

    def test_a_message_is_delivered_to_a_guest_once(self):
        compute = self.make_remote_agent(FakeRemote(delivered=0))
        received: list[dict] = []
        b = self.make_guest('b', threshold=50)
        b.on_message(received.append)
        self.assertTrue(b.registered.wait(20))
        body = {'from': 'c', 'id': 'x', 'data': 1}
        handler = manager.ComputeAgentManager(compute.deliver)
        message = guest_obj.GuestMessage(
            kind='message', message_id='m-9', sender='c', body=body,
            recipients=['b', 'gone'])
        self.assertEqual(1, handler.deliver(None, message))
        self.assertEqual(0, handler.deliver(None, message))
        message.message_id = 'm-10'
        self.assertEqual(1, handler.deliver(None, message))
        self.assertTrue(test_agent.wait_for(lambda: len(received) == 2))
        self.assertEqual([body, body], received)


class TestAttachChannel(base.TestCase):

    def test_the_agent_attaches_through_its_callable(self):
        asked: list[str] = []

        def attach(instance_id: str) -> str:
            asked.append(instance_id)
            return 'attached'
        handler = manager.ComputeAgentManager(lambda *args: 0, attach)
        self.assertEqual('attached', handler.attach_channel(None, 'i-1'))
        self.assertEqual(['i-1'], asked)

    def test_an_agent_capped_at_1_0_is_not_asked(self):
        self.config.config(compute_agent='1.0', group='upgrade_levels')
        api = rpcapi.ComputeAgentAPI(self.conf)
        self.assertRaises(messaging.UnsupportedVersion, api.attach_channel,
                          None, 'compute-0', 'i-1')
