"""Policies in code, the enforcer, and an operator's policy file."""

import os
from unittest import mock

from oslo_policy import opts as policy_opts
from oslo_policy import policy as oslo_policy

from doctor import policies
from doctor.api import policy
from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.tests import base as test_base
from doctor.tests.unit.api import base

ALARM_RULES = ('alarm:create', 'alarm:get', 'alarm:get_all',
               'alarm:get_all:all_projects', 'alarm:update', 'alarm:delete',
               'alarm:get_state', 'alarm:set_state', 'alarm:history',
               'alarm:actions:internal', 'alarm:infrastructure_events')
ENTITY_RULES = ('entity:get_all', 'entity:get')
# The inspector's resources: every rule for administrators but reading a
# port, which its owner may do too.
INSPECTOR_ADMIN_RULES = ('event:create', 'host:get_all', 'host:get',
                         'host:update', 'port:update', 'fault:get_all',
                         'fault:get')
INSPECTOR_RULES = INSPECTOR_ADMIN_RULES + ('port:get',)


def _context(**kwargs) -> doctor_context.RequestContext:
    kwargs.setdefault('project_id', base.PROJECT)
    kwargs.setdefault('user_id', base.USER)
    kwargs.setdefault('roles', ['member'])
    return doctor_context.RequestContext(**kwargs)


class TestDefaults(test_base.TestCase):

    def test_every_operation_has_a_documented_rule(self):
        rules = {rule.name: rule for rule in policies.list_rules()}

        for name in ALARM_RULES + ENTITY_RULES + INSPECTOR_RULES:
            self.assertIsInstance(rules[name],
                                  oslo_policy.DocumentedRuleDefault)
            self.assertTrue(rules[name].description)
            self.assertTrue(rules[name].operations)
        self.assertEqual('role:admin', rules['context_is_admin'].check_str)

    def test_rules_opened_to_any_role_before_keep_that_as_deprecated(self):
        rules = {rule.name: rule for rule in policies.list_rules()}

        for name in ('alarm:create', 'alarm:get', 'alarm:get_all',
                     'alarm:update', 'alarm:delete', 'alarm:get_state',
                     'alarm:set_state', 'alarm:history', 'port:get'):
            deprecated = rules[name].deprecated_rule
            self.assertEqual((name, 'rule:admin_or_owner'),
                             (deprecated.name, deprecated.check_str))
            self.assertTrue(deprecated.deprecated_reason)
            self.assertTrue(deprecated.deprecated_since)
            self.assertIn('rule:admin_or_project_',
                          rules[name].check_str)

    def test_admin_only_rules(self):
        enforcer = policy.init_enforcer(self.conf)
        member = _context()
        admin = _context(roles=['admin'])

        for name in (('alarm:get_all:all_projects', 'alarm:actions:internal',
                      'alarm:infrastructure_events') + ENTITY_RULES
                     + INSPECTOR_ADMIN_RULES):
            self.assertFalse(enforcer.authorize(name, {}, member), name)
            self.assertTrue(enforcer.authorize(name, {}, admin), name)

    def test_owner_rules_follow_the_target_project(self):
        policy.init_enforcer(self.conf)
        member = _context()

        for name in ('alarm:get', 'alarm:update', 'alarm:delete',
                     'alarm:get_state', 'alarm:set_state', 'alarm:history',
                     'port:get'):
            policy.authorize(name, {'project_id': base.PROJECT}, member)
            self.assertRaises(exception.PolicyNotAuthorized,
                              policy.authorize, name,
                              {'project_id': base.OTHER_PROJECT}, member)


class TestEnforcer(test_base.TestCase):

    def setUp(self):
        super().setUp()
        policy.init_enforcer(self.conf)

    def test_refusal_names_the_rule(self):
        error = self.assertRaises(
            exception.PolicyNotAuthorized, policy.authorize, 'alarm:get',
            {'project_id': base.OTHER_PROJECT}, _context())

        self.assertEqual(403, error.code)
        self.assertIn('alarm:get', str(error))

    def test_a_system_scoped_caller_is_refused_project_rules(self):
        context = _context(system_scope='all', roles=['admin'])

        self.assertFalse(policy.check('alarm:get', {}, context))
        self.assertRaises(exception.PolicyNotAuthorized, policy.authorize,
                          'alarm:get', {}, context)

    def test_one_enforcer_per_configuration(self):
        self.assertIs(policy.init_enforcer(self.conf),
                      policy.init_enforcer(self.conf))
        other = test_base.new_conf()
        self.assertIsNot(self.conf, policy.init_enforcer(other).conf)
        self.assertIs(other, policy.init_enforcer(other).conf)

    def test_get_enforcer_reads_only_config_options_of_the_tool(self):
        conf = test_base.new_conf()
        path = os.path.join(self.state_path, 'doctor.conf')
        with open(path, 'w') as f:
            f.write('[oslo_policy]\npolicy_file = custom.yaml\n')
        argv = ['oslopolicy-policy-generator', '--namespace', 'doctor',
                '--config-file', path, '--output-file', 'out.yaml']

        with mock.patch.object(policy.doctor_conf, 'CONF', conf), \
                mock.patch('sys.argv', argv):
            enforcer = policy.get_enforcer()

        self.assertIs(conf, enforcer.conf)
        self.assertEqual([path], conf.config_file)
        self.assertEqual('custom.yaml', conf.oslo_policy.policy_file)


class TestPolicyFile(base.APITestCase):
    """An operator's policy file changes what the API allows."""

    def setUp(self):
        super().setUp()
        path = os.path.join(self.state_path, 'policy.yaml')
        with open(path, 'w') as f:
            f.write('"alarm:delete": "rule:context_is_admin"\n'
                    '"alarm:actions:internal": "@"\n'
                    '"alarm:infrastructure_events": "@"\n')
        policy_opts.set_defaults(self.conf)
        self.config.config(policy_file=path, group='oslo_policy')

    def test_owner_refused_their_own_alarm_gets_403(self):
        alarm = self.create()

        response = self.request('DELETE', '/v1/alarms/' + alarm['alarm_id'])

        self.assert_error(response, 403, 'alarm:delete')

    def test_refused_alarm_of_another_project_stays_hidden(self):
        alarm = self.create(project=base.OTHER_PROJECT)

        response = self.request('DELETE', '/v1/alarms/' + alarm['alarm_id'])

        self.assert_error(response, 404)

    def test_admin_still_may(self):
        alarm = self.create()

        response = self.as_admin('DELETE', '/v1/alarms/' + alarm['alarm_id'])

        self.assertEqual(204, response.status_int)

    def test_opened_rule_lets_members_use_internal_schemes(self):
        self.assertEqual(['log://'],
                         self.create(alarm_actions=['log://'])
                         ['alarm_actions'])

    def test_opened_rule_lets_members_see_infrastructure_events(self):
        alarm = self.create()

        self.assertTrue(self.db.get_alarm(alarm['alarm_id'])
                        ['infrastructure'])


class TestAdminRole(base.APITestCase):

    def test_roles_are_a_comma_separated_list(self):
        alarm = self.create(project=base.OTHER_PROJECT)

        response = self.request('GET', '/v1/alarms/' + alarm['alarm_id'],
                                roles='reader, admin')

        self.assertEqual(200, response.status_int)

    def test_a_role_merely_containing_admin_is_not_admin(self):
        alarm = self.create(project=base.OTHER_PROJECT)

        response = self.request('GET', '/v1/alarms/' + alarm['alarm_id'],
                                roles='project_admin,administrator')

        self.assert_error(response, 404)
