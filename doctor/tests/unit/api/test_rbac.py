"""Role-based access: every policy rule and the role matrix of the API.

Two things are checked here through the API itself:

* every rule doctor defines refuses when an operator's policy file says
  ``"!"``, even to an administrator who owns the resource;
* the secure defaults: a project's reader reads, its member also writes,
  another project's member learns nothing, an administrator does all; and
  the deprecated defaults, which let any role of the owning project write,
  come back with ``[oslo_policy] enforce_new_defaults = False``.
"""

import datetime
import os
import warnings

from oslo_policy import opts as policy_opts
from oslo_serialization import jsonutils
import testscenarios
import webob

from doctor import policies
from doctor.tests.unit.api import base
from doctor.tests.unit.api import test_events
from doctor.tests.unit.api import test_ports
from doctor.tests.unit.db import factory

NOW = datetime.datetime(2024, 5, 1, 10, 0, 0)
FAULT = {'id': 'f-0', 'host': 'compute-0', 'type': 'compute.host.down',
         'created_at': NOW, 'checkpoints': [], 'reports': []}
ALARM = '/v1/alarms/%(alarm)s'
# A caller of the resources' project holding every role, so that only
# the rule under test can refuse.
EVERY_ROLE = 'admin,member,reader'

# One request per rule: (method, path, body). ``%(alarm)s`` is the id of
# an alarm of base.PROJECT. Each is allowed to an EVERY_ROLE caller of
# base.PROJECT under the default policy.
REQUESTS = {
    'alarm:create': ('POST', '/v1/alarms', base.alarm_body()),
    'alarm:get': ('GET', ALARM, None),
    'alarm:get_all': ('GET', '/v1/alarms', None),
    'alarm:get_all:all_projects': ('GET', '/v1/alarms?all_projects=true',
                                   None),
    'alarm:update': ('PUT', ALARM, base.alarm_body(name='renamed')),
    'alarm:delete': ('DELETE', ALARM, None),
    'alarm:get_state': ('GET', ALARM + '/state', None),
    'alarm:set_state': ('PUT', ALARM + '/state', 'alarm'),
    'alarm:history': ('GET', ALARM + '/history', None),
    'alarm:actions:internal': ('POST', '/v1/alarms',
                               base.alarm_body(alarm_actions=['log://'])),
    'entity:get_all': ('GET', '/v1/entities', None),
    'entity:get': ('GET', '/v1/entities/host:compute-0', None),
    'event:create': ('POST', '/v1/events', [test_events.event()]),
    'fault:get_all': ('GET', '/v1/faults', None),
    'fault:get': ('GET', '/v1/faults/f-0', None),
    'fault:add_checkpoints': (
        'POST', '/v1/faults/f-0/checkpoints',
        {'checkpoints': [{'name': 'received_alarm',
                          'timestamp': '2024-05-01T10:00:00.500000+00:00',
                          'alarm_id': '%(alarm)s'}]}),
    'heartbeat:get_all': ('GET', '/v1/heartbeats', None),
    'heartbeat:get': ('GET', '/v1/heartbeats/vm-1', None),
    'host:get_all': ('GET', '/v1/hosts', None),
    'host:get': ('GET', '/v1/hosts/compute-0', None),
    'host:update': ('PUT', '/v1/hosts/compute-0',
                    {'host': {'host_down_reported': True}}),
    'port:get': ('GET', '/v1/ports/p-1', None),
    'port:update': ('PUT', '/v1/ports/p-1', {'port': {'dp_down': True}}),
}
# What a refusal names, where it is not the rule.
REFUSAL = {'alarm:actions:internal': 'may use the log: action scheme'}
# Refusing this rule refuses no request: an alarm watching only events of
# no project is refused instead, as it could never fire.
INFRASTRUCTURE = ('POST', '/v1/alarms', base.alarm_body(
    resource_id='compute-0',
    notification_rule={'event_type': 'doctor.host.down', 'query': []}))


class RBACTestCase(base.InspectorAPITestCase):
    """An alarm, a port, a host, an entity and a fault of base.PROJECT."""

    def setUp(self):
        super().setUp()
        self.db.apply_entity_changes([
            base.change('host', 'compute-0', NOW, state='up',
                        name='compute-0'),
            base.change('instance', 'vm-1', NOW, state='active',
                        project_id=base.PROJECT,
                        parents=('host:compute-0',)),
            base.change('port', 'p-1', NOW, state='ACTIVE',
                        project_id=base.PROJECT,
                        parents=('host:compute-0', 'instance:vm-1'),
                        attributes={'data_plane_status': 'ACTIVE'}),
        ])
        self.db.create_fault(dict(FAULT), NOW)
        self.db.put_heartbeats([{
            'instance_id': 'vm-1', 'host': 'compute-0',
            'project_id': base.PROJECT, 'interval_ms': 1000, 'threshold': 3,
            'status': 'ok', 'reason': None, 'last_seen': NOW}])
        self.report_failures.return_value = [test_events.FAULT]
        self.report_host.return_value = {
            'host': 'compute-0', 'state': 'down', 'fault_id': 'f-1'}
        self.set_port_dp_down.return_value = test_ports.inspector_view()
        # Stored directly: the policy file of a test is written before its
        # first request, which loads the policy.
        alarm = factory.alarm_values(
            project_id=base.PROJECT, user_id=base.USER,
            alarm_actions=['http://site:8000/alarm'], ok_actions=[],
            insufficient_data_actions=[], state='insufficient data')
        self.db.create_alarm(alarm, factory.change_values(
            alarm['alarm_id'], on_behalf_of=base.PROJECT,
            project_id=base.PROJECT, user_id=base.USER))
        self.alarm = alarm['alarm_id']

    def use_policy(self, rules: str = '', **options) -> None:
        """Write ``rules`` as the policy file; set [oslo_policy] options."""
        path = os.path.join(self.state_path, 'policy.yaml')
        with open(path, 'w') as f:
            f.write(rules)
        policy_opts.set_defaults(self.conf)
        self.config.config(policy_file=path, group='oslo_policy', **options)

    def send(self, request: tuple, **kwargs) -> webob.Response:
        method, path, body = request
        path = path % {'alarm': self.alarm}
        if body is not None:
            body = jsonutils.loads(jsonutils.dumps(body) % {
                'alarm': self.alarm})
        if body is None:
            return self.request(method, path, **kwargs)
        return self.request(method, path, body, **kwargs)


class TestEveryRuleCanBeClosed(testscenarios.WithScenarios, RBACTestCase):
    """A rule set to "!" refuses even an administrator who owns the
    resource; under the defaults the same request succeeds.
    """

    scenarios = [(name, {'rule': name}) for name in sorted(REQUESTS)]

    def test_default_allows(self):
        response = self.send(REQUESTS[self.rule], roles=EVERY_ROLE)

        self.assertLess(response.status_int, 300, response.text)

    def test_closed_rule_refuses(self):
        self.use_policy('"%s": "!"\n' % self.rule)

        response = self.send(REQUESTS[self.rule], roles=EVERY_ROLE)

        self.assert_error(response, 403, REFUSAL.get(self.rule, self.rule))


class TestRuleTable(RBACTestCase):

    def test_every_documented_rule_is_in_the_table(self):
        documented = {rule.name for rule in policies.list_rules()
                      if getattr(rule, 'operations', None)}

        self.assertEqual(documented,
                         set(REQUESTS) | {'alarm:infrastructure_events'})

    def test_infrastructure_rule_lets_administrators_watch_hosts(self):
        self.assertEqual(201, self.send(INFRASTRUCTURE,
                                        roles=EVERY_ROLE).status_int)

    def test_closed_infrastructure_rule_refuses_host_alarms(self):
        self.use_policy('"alarm:infrastructure_events": "!"\n')

        response = self.send(INFRASTRUCTURE, roles=EVERY_ROLE)

        self.assert_error(response, 400, 'notification_rule.event_type')


class TestBuildingBlocks(testscenarios.WithScenarios, RBACTestCase):
    """The rules the others are built from close what they build."""

    scenarios = [
        ('context_is_admin', {'rule': 'context_is_admin', 'roles': 'admin',
                              'operation': 'host:get'}),
        ('project_reader', {'rule': 'project_reader', 'roles': 'reader',
                            'operation': 'alarm:get'}),
        ('admin_or_project_reader', {'rule': 'admin_or_project_reader',
                                     'roles': 'member',
                                     'operation': 'alarm:get'}),
        ('project_member', {'rule': 'project_member', 'roles': 'member',
                            'operation': 'alarm:set_state'}),
        ('admin_or_project_member', {'rule': 'admin_or_project_member',
                                     'roles': 'member',
                                     'operation': 'alarm:set_state'}),
    ]

    def test_default_allows(self):
        response = self.send(REQUESTS[self.operation], roles=self.roles)

        self.assertLess(response.status_int, 300, response.text)

    def test_closed_rule_refuses(self):
        self.use_policy('"%s": "!"\n' % self.rule)

        response = self.send(REQUESTS[self.operation], roles=self.roles)

        self.assert_error(response, 403, self.operation)


ALARM_READS = ('alarm:get', 'alarm:get_all', 'alarm:get_state',
               'alarm:history')
HEARTBEAT_READS = ('heartbeat:get', 'heartbeat:get_all')
# Deletion last: it takes the alarm away.
ALARM_WRITES = ('alarm:create', 'alarm:update', 'alarm:set_state',
                'alarm:delete')
ADMIN_ONLY = ('alarm:get_all:all_projects', 'alarm:actions:internal',
              'entity:get_all', 'entity:get', 'event:create',
              'fault:get_all', 'fault:get', 'host:get_all', 'host:get',
              'host:update', 'port:update')


class TestSecureDefaults(RBACTestCase):

    def assert_status(self, rules: tuple[str, ...], status: int | None,
                      **caller) -> None:
        """Each request answers ``status``; None means any success."""
        for rule in rules:
            response = self.send(REQUESTS[rule], **caller)
            if status is None:
                self.assertLess(response.status_int, 300,
                                '%s: %s' % (rule, response.text))
            else:
                self.assertEqual(status, response.status_int,
                                 '%s: %s' % (rule, response.text))

    def test_reader_reads_but_does_not_write(self):
        self.assert_status(ALARM_READS + HEARTBEAT_READS + ('port:get',),
                           None, roles='reader')
        for rule in ALARM_WRITES:
            self.assert_error(self.send(REQUESTS[rule], roles='reader'),
                              403, rule)
        self.assertEqual('insufficient data',
                         self.db.get_alarm(self.alarm)['state'])

    def test_no_role_neither_reads_nor_writes(self):
        for rule in (ALARM_READS + ALARM_WRITES + HEARTBEAT_READS
                     + ('port:get',)):
            self.assert_error(self.send(REQUESTS[rule], roles=''), 403,
                              rule)

    def test_an_unknown_role_is_no_role(self):
        self.assert_error(self.send(REQUESTS['alarm:delete'],
                                    roles='observer'), 403, 'alarm:delete')

    def test_member_reads_and_writes_in_its_project(self):
        self.assert_status(ALARM_READS + ALARM_WRITES + ('port:get',), None,
                           roles='member')

    def test_reader_and_member_use_no_administrator_rule(self):
        for roles in ('reader', 'member', 'reader,member'):
            for rule in ADMIN_ONLY:
                self.assert_error(self.send(REQUESTS[rule], roles=roles),
                                  403)

    def test_another_project_s_member_learns_nothing(self):
        other = {'project': base.OTHER_PROJECT, 'user': base.OTHER_USER,
                 'roles': 'member'}
        for rule in ALARM_READS + ALARM_WRITES + ('port:get',):
            if rule in ('alarm:create', 'alarm:get_all'):
                continue
            self.assert_error(self.send(REQUESTS[rule], **other), 404)
        listed = self.send(REQUESTS['alarm:get_all'], **other)
        self.assertEqual([], listed.json)
        self.assert_error(self.send(REQUESTS['heartbeat:get'], **other), 404)
        listed = self.send(REQUESTS['heartbeat:get_all'], **other)
        self.assertEqual({'heartbeats': []}, listed.json)
        self.assert_error(self.request(
            'POST', '/v1/alarms', base.alarm_body(project_id=base.PROJECT),
            **other), 403, 'alarm:create')
        self.assertEqual('insufficient data',
                         self.db.get_alarm(self.alarm)['state'])

    def test_admin_of_another_project_does_everything(self):
        self.assert_status(ALARM_READS + ADMIN_ONLY + ('port:get',)
                           + ALARM_WRITES, None, roles='admin',
                           project=base.ADMIN_PROJECT, user=base.ADMIN_USER)


class TestDeprecatedDefaults(RBACTestCase):
    """``enforce_new_defaults = False``: the old rule or the new one."""

    def setUp(self):
        super().setUp()
        self.use_policy(enforce_new_defaults=False)
        # oslo.policy warns, once per rule, that the old default goes.
        warnings.simplefilter('ignore', UserWarning)

    def test_reader_and_no_role_write_again(self):
        for roles in ('reader', ''):
            for rule in ('alarm:create', 'alarm:update', 'alarm:set_state'):
                response = self.send(REQUESTS[rule], roles=roles)
                self.assertLess(response.status_int, 300,
                                '%s as %r: %s' % (rule, roles,
                                                  response.text))
        self.assertEqual(204, self.send(REQUESTS['alarm:delete'],
                                        roles='').status_int)

    def test_other_projects_stay_out(self):
        response = self.send(REQUESTS['alarm:delete'],
                             project=base.OTHER_PROJECT, roles='reader')

        self.assert_error(response, 404)

    def test_administrator_rules_do_not_open(self):
        for rule in ADMIN_ONLY:
            self.assert_error(self.send(REQUESTS[rule], roles='member'),
                              403, REFUSAL.get(rule, rule))

    def test_operator_s_own_rule_wins(self):
        self.use_policy('"alarm:create": "rule:admin_or_project_member"\n',
                        enforce_new_defaults=False)

        self.assert_error(self.send(REQUESTS['alarm:create'],
                                    roles='reader'), 403, 'alarm:create')
