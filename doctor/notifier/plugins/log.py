"""The ``log:`` notifier: writes fired alarms to doctor's log."""

from oslo_log import log

from doctor.notifier.plugins import base

LOG = log.getLogger(__name__)


class LogAlarmNotifier(base.AlarmNotifier):
    """Logs each fired alarm at INFO level (admin-only action scheme)."""

    def notify(self, action, body, request_id):
        LOG.info('Alarm %(name)s (%(id)s) went from %(previous)s to '
                 '%(current)s, severity %(severity)s: %(reason)s '
                 '[request %(request_id)s]',
                 {'name': body['alarm_name'], 'id': body['alarm_id'],
                  'previous': body['previous'], 'current': body['current'],
                  'severity': body['severity'], 'reason': body['reason'],
                  'request_id': request_id})
