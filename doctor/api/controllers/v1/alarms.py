"""``/v1/alarms``: notification alarms, their state and their history.

The first line of every method is its policy check. An alarm of another
project that the policy does not let the caller see answers 404, so that
its existence is not revealed.
"""

from http import client as http_client

from oslo_log import log
from oslo_serialization import jsonutils
from oslo_utils import timeutils
from oslo_utils import uuidutils
import pecan
import webob

from doctor.api import policy
from doctor.api import validation
from doctor.api.controllers import base
from doctor.api.controllers.v1 import alarm_history
from doctor.api.controllers.v1 import alarm_input
from doctor.api.schemas.v1 import alarms as alarm_schema
from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.db import api as db_api
from doctor.db.sqlalchemy import api as sqla_api
from doctor.i18n import _
from doctor.objects import alarm as alarm_obj
from doctor.policies import alarms as alarm_policies

LOG = log.getLogger(__name__)

LIST_PARAMETERS = ('type', 'resource_id', 'state', 'name', 'enabled',
                   'project_id', 'all_projects', 'limit', 'marker', 'sort')
HISTORY_PARAMETERS = ('limit', 'marker')
SORT_DIRECTIONS = ('asc', 'desc')
# How many history entries are read at a time to find a deleted alarm's
# owner; the first one read is normally enough.
_OWNER_PAGE = 20


def _caller() -> doctor_context.RequestContext:
    return base.project_caller(
        _('alarms belong to projects: use a project-scoped token'))


def _enforce(rule: str,
             target: dict | None = None) -> doctor_context.RequestContext:
    """Check ``rule`` for the caller, by default on their own project."""
    context = _caller()
    if target is None:
        target = {'project_id': context.project_id,
                  'user_id': context.user_id}
    policy.authorize(rule, target, context)
    return context


def _no_query_parameters() -> None:
    """Refuse a query string where none is understood."""
    validation.QueryParams(pecan.request, ())


def _target(alarm: dict) -> dict:
    return {'project_id': alarm['project_id'], 'user_id': alarm['user_id']}


def _enforce_on_alarm(rule: str, alarm_id: str
                      ) -> tuple[doctor_context.RequestContext, dict]:
    """Load an alarm and check ``rule`` on it.

    :raises AlarmNotFound: if there is none, or it belongs to another
        project and the policy refuses it.
    :raises PolicyNotAuthorized: if the policy refuses an alarm of the
        caller's own project.
    """
    context = _caller()
    alarm = pecan.request.dbapi.get_alarm(alarm_id)
    try:
        policy.authorize(rule, _target(alarm), context)
    except exception.PolicyNotAuthorized:
        if alarm['project_id'] != context.project_id:
            raise exception.AlarmNotFound(alarm_id=alarm_id)
        raise
    return context, alarm


def _history_owner(dbapi: db_api.Connection, alarm_id: str) -> dict:
    """The policy target of a deleted alarm, as its history tells it.

    Every entry names the project the alarm belonged to when it was
    written (``on_behalf_of``); the newest entry that names one, normally
    the deletion, gives the alarm's last owner. A history whose entries
    name no project is for administrators only.

    :raises AlarmNotFound: if the alarm has no history either.
    """
    marker = None
    while True:
        changes = dbapi.get_alarm_changes(alarm_id, limit=_OWNER_PAGE,
                                          marker=marker)
        if not changes and marker is None:
            raise exception.AlarmNotFound(alarm_id=alarm_id)
        for change in changes:
            if change['on_behalf_of'] is not None:
                user_id = None
                if change['type'] == db_api.CHANGE_DELETION:
                    # The deletion's detail is the alarm as it was.
                    user_id = jsonutils.loads(change['detail']).get(
                        'user_id')
                return {'project_id': change['on_behalf_of'],
                        'user_id': user_id}
        if len(changes) < _OWNER_PAGE:
            return {'project_id': None, 'user_id': None}
        marker = changes[-1]['event_id']


def _enforce_on_history(alarm_id: str) -> doctor_context.RequestContext:
    """Check the history rule on an alarm, which may have been deleted.

    :raises AlarmNotFound: if there is neither the alarm nor any history
        of it, or the policy refuses it to a caller of another project.
    :raises PolicyNotAuthorized: if the policy refuses a caller of the
        owning project.
    """
    context = _caller()
    dbapi = pecan.request.dbapi
    try:
        target = _target(dbapi.get_alarm(alarm_id))
    except exception.AlarmNotFound:
        target = _history_owner(dbapi, alarm_id)
    try:
        policy.authorize(alarm_policies.HISTORY, target, context)
    except exception.PolicyNotAuthorized:
        if target['project_id'] != context.project_id:
            raise exception.AlarmNotFound(alarm_id=alarm_id)
        raise
    return context


def _announce(context: doctor_context.RequestContext, alarm: dict) -> None:
    """Tell every evaluator, before answering, that the alarm changed."""
    try:
        pecan.request.evaluator_api.alarm_changed(
            context, alarm_obj.Alarm.from_dict(alarm))
    except Exception:
        LOG.exception('Cannot tell the evaluators that alarm %s changed; '
                      'they learn it at their next resync',
                      alarm['alarm_id'])


def _announce_deletion(context: doctor_context.RequestContext,
                       alarm_id: str) -> None:
    try:
        pecan.request.evaluator_api.alarm_deleted(context, alarm_id)
    except Exception:
        LOG.exception('Cannot tell the evaluators that alarm %s is gone; '
                      'they learn it at their next resync', alarm_id)


def _owner(context: doctor_context.RequestContext, body: dict,
           rule: str, project_id: str | None,
           user_id: str | None) -> tuple[str | None, str | None]:
    """The project and user an alarm body asks for, checked.

    ``project_id`` and ``user_id`` are the owners the alarm keeps when the
    body names none. Naming another project is subject to ``rule`` on that
    project; naming a user other than these or the caller is for
    administrators.
    """
    requested_project = body.get('project_id', project_id)
    requested_user = body.get('user_id', user_id)
    if requested_project != context.project_id:
        policy.authorize(rule, {'project_id': requested_project,
                                'user_id': requested_user}, context)
    if (requested_user not in (user_id, context.user_id)
            and not context.is_admin):
        raise exception.Forbidden(
            reason=_('only an administrator may give an alarm to another '
                     'user'))
    return requested_project, requested_user


def _check_quotas(conf, dbapi: db_api.Connection, project_id: str | None,
                  user_id: str | None) -> None:
    quota = conf.api.project_alarm_quota
    if quota is not None and dbapi.count_alarms(
            project_id=project_id) >= quota:
        raise exception.QuotaExceeded(
            reason=_('project %(project)s may own %(quota)d alarms')
            % {'project': project_id, 'quota': quota})
    quota = conf.api.user_alarm_quota
    if quota is not None and dbapi.count_alarms(user_id=user_id) >= quota:
        raise exception.QuotaExceeded(
            reason=_('user %(user)s may own %(quota)d alarms')
            % {'user': user_id, 'quota': quota})


def _sort_keys(value: str | None) -> list[tuple[str, str]] | None:
    """``name:asc,timestamp:desc`` as ``[(key, direction), …]``."""
    if value is None:
        return None
    keys: list[tuple[str, str]] = []
    for item in value.split(','):
        key, _sep, direction = item.strip().partition(':')
        direction = direction or 'asc'
        if key not in sqla_api.SORT_KEYS:
            raise exception.InvalidField(
                field='sort', reason=_('%(key)r is not a sort key; sort '
                                       'keys: %(keys)s')
                % {'key': key, 'keys': ', '.join(sqla_api.SORT_KEYS)})
        if direction not in SORT_DIRECTIONS:
            raise exception.InvalidField(
                field='sort', reason=_('%r is not asc or desc') % direction)
        if key in [known for known, _direction in keys]:
            raise exception.InvalidField(
                field='sort', reason=_('%r is given twice') % key)
        keys.append((key, direction))
    return keys


class AlarmStateController(base.RestController):
    """``/v1/alarms/{alarm_id}/state``: the state as a JSON string."""

    def __init__(self, alarm_id: str) -> None:
        self._id = alarm_id

    @pecan.expose('json')
    def get(self) -> str:
        """The alarm's state, a JSON string such as ``"ok"``."""
        _context, alarm = _enforce_on_alarm(alarm_policies.GET_STATE,
                                            self._id)
        _no_query_parameters()
        return alarm['state']

    @pecan.expose('json')
    def put(self) -> str:
        """Set the state by hand; the body is the new state, a JSON string."""
        context, alarm = _enforce_on_alarm(alarm_policies.SET_STATE,
                                           self._id)
        _no_query_parameters()
        state = validation.json_body(pecan.request)
        if state not in db_api.ALARM_STATES:
            raise exception.InvalidField(
                field='state', reason=_('the body must be one of %s, as a '
                                        'JSON string')
                % ', '.join('"%s"' % s for s in db_api.ALARM_STATES))
        now = timeutils.utcnow()
        previous = alarm['state']
        values = {'state': state, 'state_timestamp': now,
                  'state_reason': alarm_history.STATE_REASON}
        deadline = alarm_input.deadline(alarm['rule'], now)
        if deadline is not None:
            # A timeout clears the deadline: a state set by hand arms the
            # watchdog again, as a replacement of the alarm does.
            values['deadline'] = deadline
        alarm.update(values)
        change = alarm_history.state_change(context, alarm, previous, now)
        alarm = pecan.request.dbapi.update_alarm(self._id, values, [change])
        _announce(context, alarm)
        alarm_history.emit(pecan.request.notifier, context, [change])
        return alarm['state']


class AlarmHistoryController(base.RestController):
    """``/v1/alarms/{alarm_id}/history``: the alarm's changes, newest first."""

    def __init__(self, alarm_id: str) -> None:
        self._id = alarm_id

    @pecan.expose('json')
    def get(self) -> list[dict]:
        """A page of history entries; ``limit`` and ``marker`` page on."""
        _enforce_on_history(self._id)
        conf = pecan.request.conf
        params = validation.QueryParams(pecan.request, HISTORY_PARAMETERS)
        limit = params.integer('limit', conf.api.default_limit, 1,
                               conf.api.max_limit)
        marker = params.string('marker')
        try:
            changes = pecan.request.dbapi.get_alarm_changes(
                self._id, limit=limit, marker=marker)
        except exception.NotFound:
            raise exception.InvalidField(
                field='marker', reason=_('%r is not an entry of this '
                                         'alarm\'s history') % marker)
        return [alarm_history.change_view(change) for change in changes]


class AlarmController(base.RestController):
    """``/v1/alarms/{alarm_id}``: one alarm."""

    def __init__(self, alarm_id: str) -> None:
        self._id = alarm_id
        self.state = AlarmStateController(alarm_id)
        self.history = AlarmHistoryController(alarm_id)

    @pecan.expose('json')
    def get(self) -> dict:
        """The alarm."""
        _context, alarm = _enforce_on_alarm(alarm_policies.GET, self._id)
        _no_query_parameters()
        return alarm_history.alarm_view(alarm)

    @pecan.expose('json')
    def put(self) -> dict:
        """Replace the alarm's definition (and its state, if given)."""
        context, stored = _enforce_on_alarm(alarm_policies.UPDATE, self._id)
        _no_query_parameters()
        request = pecan.request
        body = alarm_schema.validate_update(
            validation.json_body(request))
        if body.get('alarm_id', self._id) != self._id:
            raise exception.InvalidField(
                field='alarm_id',
                reason=_('does not match the alarm being replaced'))
        alarm_history.keep_masked_credentials(body, stored)
        project_id, user_id = _owner(context, body, alarm_policies.UPDATE,
                                     stored['project_id'],
                                     stored['user_id'])
        now = timeutils.utcnow()
        target = {'project_id': project_id, 'user_id': user_id}
        values = alarm_input.definition(request.conf, body,
                                        request.action_schemes, context,
                                        target, now)
        values.update(project_id=project_id, user_id=user_id,
                      state=body.get('state', stored['state']))
        alarm = dict(stored, **values)
        changes = []
        changed = alarm_history.definition_changes(stored, alarm)
        if changed:
            alarm['timestamp'] = values['timestamp'] = now
            changes.append(alarm_history.new_change(
                context, alarm, db_api.CHANGE_RULE, changed, now))
        if alarm['state'] != stored['state']:
            values.update(state_timestamp=now,
                          state_reason=alarm_history.STATE_REASON)
            alarm.update(values)
            changes.append(alarm_history.state_change(
                context, alarm, stored['state'], now))
        alarm = request.dbapi.update_alarm(self._id, values, changes)
        _announce(context, alarm)
        alarm_history.emit(request.notifier, context, changes)
        return alarm_history.alarm_view(alarm)

    @pecan.expose('json')
    def delete(self) -> webob.Response:
        """Delete the alarm; its history stays in the database."""
        context, alarm = _enforce_on_alarm(alarm_policies.DELETE, self._id)
        _no_query_parameters()
        change = alarm_history.new_change(
            context, alarm, db_api.CHANGE_DELETION,
            alarm_history.alarm_view(alarm), timeutils.utcnow())
        pecan.request.dbapi.delete_alarm(self._id, change)
        _announce_deletion(context, self._id)
        alarm_history.emit(pecan.request.notifier, context, [change])
        response = pecan.response
        response.status = http_client.NO_CONTENT
        del response.content_type
        return response


class AlarmsController(base.RestController):
    """``/v1/alarms``: create and list alarms."""

    @pecan.expose('json')
    def post(self) -> dict:
        """Create an alarm; answers 201 with it."""
        context = _enforce(alarm_policies.CREATE)
        _no_query_parameters()
        request = pecan.request
        body = alarm_schema.validate_create(validation.json_body(request))
        project_id, user_id = _owner(context, body, alarm_policies.CREATE,
                                     context.project_id, context.user_id)
        now = timeutils.utcnow()
        target = {'project_id': project_id, 'user_id': user_id}
        alarm = alarm_input.definition(request.conf, body,
                                       request.action_schemes, context,
                                       target, now)
        state = body.get('state', 'insufficient data')
        alarm.update(
            alarm_id=uuidutils.generate_uuid(), project_id=project_id,
            user_id=user_id, state=state, state_timestamp=now,
            state_reason=(alarm_history.STATE_REASON if 'state' in body
                          else None),
            timestamp=now)
        _check_quotas(request.conf, request.dbapi, project_id, user_id)
        change = alarm_history.new_change(
            context, alarm, db_api.CHANGE_CREATION,
            alarm_history.alarm_view(alarm), now)
        alarm = request.dbapi.create_alarm(alarm, change)
        _announce(context, alarm)
        alarm_history.emit(request.notifier, context, [change])
        pecan.response.status = http_client.CREATED
        return alarm_history.alarm_view(alarm)

    @pecan.expose('json')
    def get_all(self) -> list[dict]:
        """Alarms of the caller's project (or, for an admin, any project).

        Filters: type, resource_id, state, name, enabled; paging: limit,
        marker, sort.
        """
        context = _enforce(alarm_policies.GET_ALL)
        request = pecan.request
        conf = request.conf
        params = validation.QueryParams(request, LIST_PARAMETERS)
        project_id: str | None = context.project_id
        all_projects = params.boolean('all_projects', False)
        if 'project_id' in params:
            project_id = params.string('project_id')
            _enforce(alarm_policies.GET_ALL, {'project_id': project_id,
                                              'user_id': None})
        elif all_projects:
            _enforce(alarm_policies.GET_ALL_PROJECTS)
            project_id = None
        filters = {
            'alarm_type': params.string('type',
                                        choices=alarm_schema.ALARM_TYPES),
            'resource_id': params.string('resource_id'),
            'state': params.string('state', choices=db_api.ALARM_STATES),
            'name': params.string('name'),
            'enabled': params.boolean('enabled'),
        }
        limit = params.integer('limit', conf.api.default_limit, 1,
                               conf.api.max_limit)
        sort = _sort_keys(params.string('sort'))
        marker = params.string('marker')
        if marker is not None:
            self._check_marker(marker, project_id)
        alarms = request.dbapi.get_alarms(
            project_id=project_id, limit=limit, marker=marker, sort=sort,
            **filters)
        return [alarm_history.alarm_view(alarm) for alarm in alarms]

    @staticmethod
    def _check_marker(marker: str, project_id: str | None) -> None:
        try:
            alarm = pecan.request.dbapi.get_alarm(marker)
        except exception.AlarmNotFound:
            alarm = None
        if alarm is None or (project_id is not None
                             and alarm['project_id'] != project_id):
            raise exception.InvalidField(
                field='marker', reason=_('%r is not an alarm of this '
                                         'listing') % marker)

    @pecan.expose()
    def _lookup(self, alarm_id: str, *remainder):
        return AlarmController(alarm_id), remainder
