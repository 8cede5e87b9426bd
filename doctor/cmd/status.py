"""doctor-status: checks an operator runs before and after an upgrade.

``doctor-status upgrade check`` reads ``doctor.conf``, looks at the
database and the policy file, and prints one result per check. The exit
status is oslo.upgradecheck's: 0 when every check passed, 1 when one
warned, 2 when one failed. No check changes anything.
"""

from collections.abc import Callable
import functools
import importlib.metadata
import os
import re
import sys
import urllib.parse

from alembic import script as alembic_script
from oslo_config import cfg
import oslo_messaging as messaging
from oslo_policy import policy as oslo_policy
from oslo_upgradecheck import common_checks
from oslo_upgradecheck import upgradecheck
import sqlalchemy as sa
from sqlalchemy import pool as sa_pool
from stevedore import extension
import yaml

from doctor import conf as doctor_conf
from doctor import policies
from doctor.common import exception
from doctor.common import rpc
from doctor.db.sqlalchemy import migration
from doctor.db.sqlalchemy import models
from doctor.evaluator import rpcapi as evaluator_rpcapi
from doctor.evaluator import service as evaluator_service
from doctor.heartbeat import rpcapi as heartbeat_rpcapi
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import rpcapi as inspector_rpcapi
from doctor.inspector.controllers import openstack
from doctor.notifier import deliverer
from doctor.notifier import rpcapi as notifier_rpcapi
from doctor.synchronizer import rpcapi as synchronizer_rpcapi
from doctor.synchronizer import service as synchronizer_service

Code = upgradecheck.Code
Result = upgradecheck.Result

# Seconds the database check waits for the server to answer.
CONNECT_TIMEOUT = 10
AUTHTOKEN_GROUP = 'keystone_authtoken'
TRANSPORT_DRIVERS = 'oslo.messaging.drivers'
# The groups holding the credentials of the plugins named after them.
CREDENTIAL_GROUPS = ('nova', 'neutron')
# [upgrade_levels] option: the newest RPC API version of that service.
RPC_VERSIONS = {
    'compute_agent': heartbeat_rpcapi.ComputeAgentAPI.RPC_API_VERSION,
    'guest_router': heartbeat_rpcapi.GuestRouterAPI.RPC_API_VERSION,
    'evaluator': evaluator_rpcapi.EvaluatorAPI.RPC_API_VERSION,
    'inspector': inspector_rpcapi.InspectorAPI.RPC_API_VERSION,
    'notifier': notifier_rpcapi.NotifierAPI.RPC_API_VERSION,
    'synchronizer': synchronizer_rpcapi.EntityFollowerAPI.RPC_API_VERSION,
}
_VERSION = re.compile(r'^(\d+)\.(\d+)$')
_RULE_REFERENCE = re.compile(r'\brule:([^\s()]+)')


def _success(details: str | None = None) -> Result:
    return Result(Code.SUCCESS, details)


def _warning(details: str) -> Result:
    return Result(Code.WARNING, details)


def _failure(details: str) -> Result:
    return Result(Code.FAILURE, details)


def _one_line(error: BaseException) -> str:
    text = ' '.join(str(error).split())
    return text or type(error).__name__


def _worst(problems: list[Result]) -> Result:
    """One result of several: the worst code, every message."""
    if not problems:
        return _success()
    code = max(problem.code for problem in problems)
    return Result(code, ' '.join(problem.details or ''
                                 for problem in problems))


def _reading_config(check: Callable[['Checks'], Result]
                    ) -> Callable[['Checks'], Result]:
    """``check``, failing when oslo.config refuses a value it reads.

    A value in the configuration file that oslo.config cannot convert is
    a failure of the check that reads it, not a traceback.
    """
    @functools.wraps(check)
    def run(self: 'Checks') -> Result:
        try:
            return check(self)
        except cfg.Error as e:
            return _failure('Invalid configuration: %s. Correct it in '
                            'doctor.conf.' % _one_line(e))
    return run


class Checks(upgradecheck.UpgradeCommands):
    """doctor's upgrade checks, each reading ``conf`` when it runs."""

    display_title = 'doctor upgrade check results'

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__()
        self.conf = conf

    # the database

    @_reading_config
    def _check_database(self) -> Result:
        """The schema is at the newest revision this release knows."""
        url = self.conf.database.connection
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as e:
            return _failure('[database] connection is not a database URL '
                            '(%s).' % _one_line(e))
        shown = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == 'sqlite':
            path = parsed.database
            if path and path != ':memory:' and not os.path.exists(path):
                return _failure('The database file %s does not exist: run '
                                '"doctor-manage db sync" to create it.'
                                % path)
        try:
            current = self._schema_revision(parsed)
        except (ImportError, sa.exc.NoSuchModuleError) as e:
            return _failure('The driver of [database] connection %s cannot '
                            'be loaded (%s): install it next to doctor, '
                            'e.g. psycopg2-binary for PostgreSQL or PyMySQL '
                            'for MySQL.' % (shown, _one_line(e)))
        except sa.exc.SQLAlchemyError as e:
            cause = (e.orig if isinstance(e, sa.exc.DBAPIError) and e.orig
                     else e)
            return _failure('Cannot reach the database %s (%s). Check '
                            '[database] connection and that the server is '
                            'up.' % (shown, _one_line(cause)))
        head = migration.head()
        if current == head:
            return _success()
        if current is None:
            return _failure('The database %s has no doctor schema, this '
                            'release needs revision %s: run "doctor-manage '
                            'db sync".' % (shown, head))
        if current not in _known_revisions():
            return _failure('The database %s is at revision %s, which this '
                            'release does not know (its newest is %s): a '
                            'newer doctor migrated it. Check this node with '
                            'the newer release installed.'
                            % (shown, current, head))
        return _failure('The database %s is at revision %s, this release '
                        'needs %s: run "doctor-manage db sync".'
                        % (shown, current, head))

    @staticmethod
    def _engine(url: sa.engine.URL) -> sa.engine.Engine:
        connect_args = {}
        if url.get_backend_name() in ('postgresql', 'mysql'):
            connect_args['connect_timeout'] = CONNECT_TIMEOUT
        return sa.create_engine(url, poolclass=sa_pool.NullPool,
                                connect_args=connect_args)

    def _schema_revision(self, url: sa.engine.URL) -> str | None:
        engine = self._engine(url)
        try:
            return migration.version(engine)
        finally:
            engine.dispose()

    # the policy file

    @_reading_config
    def _check_policy_json(self) -> Result:
        """oslo.upgradecheck's own: a JSON policy file is deprecated."""
        return common_checks.check_policy_json(self, self.conf)

    @_reading_config
    def _check_policy_file(self) -> Result:
        """The policy file parses and overrides only doctor's rules."""
        enforcer = oslo_policy.Enforcer(self.conf)
        name = self.conf.oslo_policy.policy_file
        path = self.conf.find_file(name)
        if path is None:
            if os.path.isabs(name):
                return _warning('[oslo_policy] policy_file %s does not '
                                'exist: the defaults in code apply. Correct '
                                'the path or unset the option.' % name)
            return _success()
        try:
            with open(path, encoding='utf-8') as f:
                rules = yaml.safe_load(f)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            return _failure('Cannot read the policy file %s: %s'
                            % (path, _one_line(e)))
        if rules is None:
            return _success()
        if not isinstance(rules, dict) or not all(
                isinstance(key, str) and isinstance(value, str)
                for key, value in rules.items()):
            return _failure('The policy file %s must map rule names to '
                            'check strings ("name": "check").' % path)
        defaults = policies.list_rules()
        undefined = self._undefined_references(path, rules, defaults)
        return _worst(self._unknown_rules(path, rules, defaults) + undefined
                      + self._cycles(path, enforcer, undefined))

    @staticmethod
    def _unknown_rules(path: str, rules: dict[str, str],
                       defaults: list[oslo_policy.RuleDefault]
                       ) -> list[Result]:
        known = {default.name for default in defaults}
        # A deprecated rule of the same name keeps an old check string,
        # not an old name.
        renamed = {default.deprecated_rule.name: default.name
                   for default in defaults if default.deprecated_rule
                   and default.deprecated_rule.name != default.name}
        removed = {default.name for default in defaults
                   if default.deprecated_for_removal}
        referenced = {name for check in list(rules.values())
                      + [default.check_str for default in defaults]
                      for name in _RULE_REFERENCE.findall(check)}
        problems = []
        unknown = sorted(name for name in rules
                         if name not in known and name not in renamed
                         and name not in referenced)
        if unknown:
            problems.append(_warning(
                'The policy file %s sets rules doctor does not have: %s. '
                'They have no effect; remove them or correct their names '
                '(the sample, "tox -e genpolicy", lists every rule).'
                % (path, ', '.join(unknown))))
        old = sorted(name for name in rules if name in renamed)
        if old:
            problems.append(_warning(
                'The policy file %s sets deprecated rule names: %s. Write '
                'them under their new names.'
                % (path, ', '.join('%s (now %s)' % (name, renamed[name])
                                   for name in old))))
        going = sorted(name for name in rules if name in removed)
        if going:
            problems.append(_warning(
                'The policy file %s sets rules deprecated for removal: %s.'
                % (path, ', '.join(going))))
        return problems

    @staticmethod
    def _undefined_references(path: str, rules: dict[str, str],
                              defaults: list[oslo_policy.RuleDefault]
                              ) -> list[Result]:
        defined = set(rules) | {default.name for default in defaults}
        undefined = sorted({'%s (in %s)' % (reference, name)
                            for name, check in rules.items()
                            for reference in _RULE_REFERENCE.findall(check)
                            if reference not in defined})
        if not undefined:
            return []
        return [_failure('The policy file %s refers to rules that are '
                         'defined nowhere: %s. Such a check never passes; '
                         'define the rules or correct the references.'
                         % (path, ', '.join(undefined)))]

    @staticmethod
    def _cycles(path: str, enforcer: oslo_policy.Enforcer,
                undefined: list[Result]) -> list[Result]:
        enforcer.register_defaults(policies.list_rules())
        try:
            enforcer.load_rules(force_reload=True)
        except Exception as e:
            # Anything oslo.policy refuses in a file that parsed as YAML.
            return [_failure('oslo.policy cannot load the policy file %s: '
                             '%s' % (path, _one_line(e)))]
        # check_rules finds references to undefined rules, already reported
        # with their names, and cycles.
        if undefined or enforcer.check_rules(raise_on_violation=False):
            return []
        return [_failure('The policy file %s has rules that refer to each '
                         'other in a cycle: none of their checks can pass. '
                         'Break the cycle.' % path)]

    # the configuration

    @_reading_config
    def _check_api_auth(self) -> Result:
        """Keystone authentication has what keystonemiddleware needs."""
        if self.conf.api.auth_strategy != 'keystone':
            return _success()
        from keystoneauth1 import exceptions as ksa_exc
        from keystoneauth1 import loading as ks_loading
        from keystonemiddleware import auth_token

        for group, opts in auth_token.list_opts():
            self.conf.register_opts(opts, group=group)
        problems = []
        options = self.conf[AUTHTOKEN_GROUP]
        if not options.www_authenticate_uri:
            problems.append(_warning(
                '[keystone_authtoken] www_authenticate_uri is not set: '
                'unauthenticated clients are not told where to get a '
                'token. Set it to Keystone\'s public URL.'))
        try:
            auth = ks_loading.load_auth_from_conf_options(self.conf,
                                                          AUTHTOKEN_GROUP)
        except (ksa_exc.ClientException, ValueError) as e:
            auth = None
            problems.append(_failure(
                'With [api] auth_strategy = keystone, [keystone_authtoken] '
                'cannot authenticate doctor to Keystone: %s.'
                % _one_line(e)))
        else:
            if auth is None:
                problems.append(_failure(
                    'With [api] auth_strategy = keystone, '
                    '[keystone_authtoken] auth_type is not set: doctor '
                    'cannot validate tokens. Set auth_type = password with '
                    'auth_url, username, password, project_name, '
                    'user_domain_name and project_domain_name of doctor\'s '
                    'service user.'))
        return _worst(problems)

    @_reading_config
    def _check_plugins(self) -> Result:
        """The services' plugins exist and their start-up checks pass."""
        problems = []
        for check in (evaluator_service.check_config,
                      synchronizer_service.check_config,
                      inspector_mod.check_config):
            try:
                check(self.conf)
            except exception.ConfigInvalid as e:
                problems.append(_failure(_one_line(e) + '.'))
        return _worst(problems)

    @_reading_config
    def _check_notifiers(self) -> Result:
        """The notifiers load and serve the schemes of stored actions."""
        failed: list[str] = []

        def load_failed(manager, entrypoint, error) -> None:
            failed.append('%s (%s)' % (entrypoint.name, _one_line(error)))

        notifiers = extension.ExtensionManager(
            deliverer.NAMESPACE, invoke_on_load=True,
            invoke_args=(self.conf,), on_load_failure_callback=load_failed)
        schemes = set(notifiers.names())
        for loaded in notifiers:
            if loaded.obj is not None:
                loaded.obj.close()
        problems = [
            _failure('[notifier] %s = %s: no such file. https webhooks '
                     'would fail; correct the path or unset the option.'
                     % (option, path))
            for option in ('ssl_ca_file', 'ssl_client_cert',
                           'ssl_client_key')
            for path in [self.conf.notifier[option]]
            if path and not os.path.isfile(path)]
        if failed:
            problems.append(_failure(
                'Notifier plugins fail to load: %s. The actions of their '
                'URL schemes would not be delivered; correct the '
                '[notifier] options they name.' % ', '.join(sorted(failed))))
        unserved = {scheme: count for scheme, count
                    in self._action_schemes().items()
                    if scheme not in schemes}
        if unserved:
            problems.append(_warning(
                'Stored alarms have actions that no notifier delivers, by '
                'URL scheme (number of alarms): %s. '
                'Install the notifier plugin of that URL scheme, or change '
                'the alarms\' actions.'
                % ', '.join('%s (%d)' % (scheme, count)
                            for scheme, count in sorted(unserved.items()))))
        return _worst(problems)

    def _action_schemes(self) -> dict[str, int]:
        """How many alarms use each URL scheme in their actions.

        Empty when the database check fails: that check reports why.
        """
        if self._check_database().code != Code.SUCCESS:
            return {}
        alarm = models.Alarm.__table__
        engine = self._engine(sa.engine.make_url(
            self.conf.database.connection))
        counts: dict[str, int] = {}
        try:
            with engine.connect() as connection:
                rows = connection.execute(sa.select(
                    alarm.c.alarm_actions, alarm.c.ok_actions,
                    alarm.c.insufficient_data_actions))
                for row in rows:
                    used = {urllib.parse.urlsplit(url).scheme
                            for actions in row for url in actions or ()}
                    for scheme in used:
                        counts[scheme] = counts.get(scheme, 0) + 1
        except sa.exc.SQLAlchemyError:
            return {}
        finally:
            engine.dispose()
        return counts

    @_reading_config
    def _check_credentials(self) -> Result:
        """The Nova and Neutron plugins in use have their credentials."""
        from keystoneauth1 import exceptions as ksa_exc
        from keystoneauth1 import loading as ks_loading

        users = self._users()
        problems = []
        for group in CREDENTIAL_GROUPS:
            if group not in users:
                continue
            verb = 'names' if len(users[group]) == 1 else 'name'
            naming = '%s %s' % (' and '.join(users[group]), verb)
            try:
                auth = ks_loading.load_auth_from_conf_options(self.conf,
                                                              group)
                if auth is not None:
                    session = ks_loading.load_session_from_conf_options(
                        self.conf, group, auth=auth)
                    ks_loading.load_adapter_from_conf_options(
                        self.conf, group, session=session, auth=auth)
            except (ksa_exc.ClientException, ValueError) as e:
                problems.append(_failure(
                    '%s %s, but [%s] is incomplete: %s.'
                    % (naming, group, group, _one_line(e))))
                continue
            if auth is None:
                problems.append(_failure(
                    '%s %s, but [%s] has no credentials: set '
                    'auth_type = password with auth_url, username, '
                    'password, project_name, user_domain_name and '
                    'project_domain_name.' % (naming, group, group)))
        return _worst(problems)

    def _users(self) -> dict[str, list[str]]:
        """The credential groups in use, with the options naming them."""
        users: dict[str, list[str]] = {}
        for option, names in (
                ('[synchronizer] datasources',
                 self.conf.synchronizer.datasources),
                ('[inspector] controllers', self.conf.inspector.controllers)):
            for name in names:
                if name in CREDENTIAL_GROUPS:
                    users.setdefault(name, []).append(option)
        return users

    @_reading_config
    def _check_endpoints(self) -> Result:
        """An endpoint_override of [nova] or [neutron] is the right API.

        Nova's root URL answers every call with 300 and its versions, and
        changes nothing: a controller given it would fail each action.
        The check asks the endpoint, with the group's credentials, what it
        is: Nova's versioned API names its version, Neutron's lists ports
        under /v2.0.
        """
        problems = []
        for group in CREDENTIAL_GROUPS:
            if group not in self._users():
                continue
            endpoint = self.conf[group].endpoint_override
            if not endpoint:
                continue
            problems.append(self._endpoint(group, endpoint))
        return _worst(problems)

    def _endpoint(self, group: str, endpoint: str) -> Result:
        service = 'Nova' if group == 'nova' else 'Neutron'
        path = '/' if group == 'nova' else '/v2.0/ports?limit=1'
        api = openstack.ServiceAPI(self.conf, group, service,
                                   max_concurrent=1)
        wrong = ('[%s] endpoint_override = %s is not %s: set it to %s, or '
                 'unset it to use the catalog\'s.'
                 % (group, endpoint,
                    'the versioned compute API' if group == 'nova'
                    else 'the networking API\'s root',
                    openstack.VERSIONED_EXAMPLES[group]))
        try:
            response = api.call('GET', path, 'check [%s] endpoint_override'
                                % group)
        except openstack.Refused as e:
            if e.status is not None and e.status < 500:
                return _failure('%s (%s)' % (wrong, _one_line(e)))
            return _warning('[%s] endpoint_override could not be checked: '
                            '%s.' % (group, _one_line(e)))
        except exception.NotFound as e:
            return _failure('%s (%s)' % (wrong, _one_line(e)))
        except Exception as e:
            return _warning('[%s] endpoint_override could not be checked: '
                            '%s.' % (group, _one_line(e)))
        finally:
            api.close()
        try:
            document = response.json()
        except ValueError:
            document = None
        if group == 'nova' and not (
                isinstance(document, dict)
                and isinstance(document.get('version'), dict)):
            return _failure('%s (GET / answered no version)' % wrong)
        if group == 'neutron' and not (
                isinstance(document, dict) and 'ports' in document):
            return _failure('%s (GET /v2.0/ports answered no ports)'
                            % wrong)
        return _success()

    @_reading_config
    def _check_transport(self) -> Result:
        """The bus URLs name oslo.messaging drivers that are installed."""
        drivers = sorted({entry.name for entry in importlib.metadata
                          .entry_points(group=TRANSPORT_DRIVERS)})
        problems = []
        for option, url in (
                ('[DEFAULT] transport_url', self.conf.transport_url),
                ('[oslo_messaging_notifications] transport_url',
                 self.conf.oslo_messaging_notifications.transport_url)):
            if url is None:
                continue
            try:
                parsed = messaging.TransportURL.parse(self.conf, url)
            except (messaging.InvalidTransportURL, ValueError) as e:
                problems.append(_failure('%s is not a transport URL: %s.'
                                         % (option, _one_line(e))))
                continue
            if parsed.transport not in drivers:
                problems.append(_failure(
                    '%s uses the driver "%s", which is not installed (there '
                    'are: %s). Use rabbit:// for RabbitMQ.'
                    % (option, parsed.transport, ', '.join(drivers))))
        return _worst(problems)

    @_reading_config
    def _check_upgrade_levels(self) -> Result:
        """The RPC version pins are versions this release can send."""
        problems = []
        for name, newest in sorted(RPC_VERSIONS.items()):
            pin = self.conf.upgrade_levels[name]
            if pin is None:
                continue
            match = _VERSION.match(pin)
            if match is None:
                problems.append(_failure(
                    '[upgrade_levels] %s = %s is not a version: write '
                    'MAJOR.MINOR, such as %s, or unset it.'
                    % (name, pin, newest)))
            elif (tuple(int(part) for part in match.groups())
                  > _version(newest)):
                problems.append(_warning(
                    '[upgrade_levels] %s = %s is newer than this release\'s '
                    'RPC API (%s), so it caps nothing: set it to the '
                    'version of the oldest %s still running, or unset it.'
                    % (name, pin, newest, name)))
        return _worst(problems)

    _upgrade_checks = (
        ('Database schema', _check_database),
        ('Policy File JSON to YAML Migration', _check_policy_json),
        ('Policy file', _check_policy_file),
        ('API authentication', _check_api_auth),
        ('Plugins', _check_plugins),
        ('Notifier plugins', _check_notifiers),
        ('OpenStack credentials', _check_credentials),
        ('OpenStack endpoints', _check_endpoints),
        ('Message bus', _check_transport),
        ('RPC version pins', _check_upgrade_levels),
    )


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split('.'))


def _known_revisions() -> set[str]:
    """Every migration revision of this release."""
    directory = alembic_script.ScriptDirectory(
        os.path.join(os.path.dirname(migration.__file__), 'alembic'))
    return {revision.revision for revision in directory.walk_revisions()}


def main(argv: list[str] | None = None) -> int:
    conf = doctor_conf.CONF
    doctor_conf.register_opts(conf)
    rpc.set_defaults(conf)
    argv = sys.argv[1:] if argv is None else argv
    try:
        return upgradecheck.main(conf, 'doctor', Checks(conf), argv=argv)
    except cfg.Error as e:
        # A configuration file that is missing or does not parse.
        print('doctor-status: %s' % _one_line(e), file=sys.stderr)
        return Code.FAILURE


if __name__ == '__main__':
    sys.exit(main())
