"""Where doctor-profiler reads faults from: the API, a database, logs.

Each source gives faults as the API shows them: dicts with ``id``,
``host``, ``created_at`` and every ``checkpoint`` (each with ``name``,
``component``, ``timestamp`` and, where about one alarm, ``alarm_id``).
"""

import abc
from collections.abc import Iterable
from collections.abc import Iterator
import datetime
import json
import typing

from doctor.profiler import checkpoints


class NotFound(Exception):
    """The source has no such fault."""


class SourceError(Exception):
    """The source cannot be read."""


def _after(fault: typing.Mapping, since: datetime.datetime | None) -> bool:
    if since is None:
        return True
    created = fault.get('created_at')
    if created is None:
        return True
    return checkpoints.parse_time(created) >= since


class Source(metaclass=abc.ABCMeta):
    """Faults and their checkpoints."""

    @abc.abstractmethod
    def get_fault(self, fault_id: str) -> dict:
        """One fault. :raises NotFound: if there is no such fault."""

    @abc.abstractmethod
    def faults(self, since: datetime.datetime | None = None,
               host: str | None = None) -> Iterator[dict]:
        """Faults begun since ``since`` (of ``host``), newest first."""


class ApiSource(Source):
    """doctor-api, through a keystoneauth session.

    :param endpoint: the API's root URL; None: the catalog's endpoint of
        service type ``fault-management``.
    :param headers: sent with every request (the identity headers of the
        API's noauth mode).
    """

    PAGE = 100

    def __init__(self, session: typing.Any, endpoint: str | None,
                 headers: dict[str, str] | None = None) -> None:
        self._session = session
        self._endpoint = endpoint.rstrip('/') if endpoint else None
        self._headers = dict(headers or {})

    def _get(self, path: str, params: dict | None = None) -> dict:
        kwargs: dict[str, typing.Any] = {
            'headers': dict(self._headers, Accept='application/json'),
            'params': params or {}, 'raise_exc': False}
        if self._endpoint is not None:
            url = self._endpoint + path
        else:
            url = path
            kwargs['endpoint_filter'] = {'service_type': 'fault-management'}
        try:
            response = self._session.get(url, **kwargs)
        except Exception as e:
            raise SourceError('cannot reach the doctor API: %s' % e) from e
        if response.status_code == 404:
            raise NotFound(path)
        if response.status_code >= 400:
            raise SourceError('the doctor API answered %d to GET %s: %s'
                              % (response.status_code, path,
                                 (response.text or '')[:300]))
        return response.json()

    def get_fault(self, fault_id: str) -> dict:
        return self._get('/v1/faults/%s' % fault_id)['fault']

    def faults(self, since=None, host=None):
        marker = None
        while True:
            params: dict[str, typing.Any] = {'limit': self.PAGE}
            if host is not None:
                params['host'] = host
            if marker is not None:
                params['marker'] = marker
            page = self._get('/v1/faults', params)['faults']
            for fault in page:
                if not _after(fault, since):
                    return
                yield fault
            if len(page) < self.PAGE:
                return
            marker = page[-1]['id']


class DatabaseSource(Source):
    """doctor's database, read directly (``[database] connection``)."""

    PAGE = 500

    def __init__(self, url: str) -> None:
        from oslo_config import cfg

        from doctor import conf as doctor_conf
        from doctor.db import api as db_api

        conf = cfg.ConfigOpts()
        doctor_conf.register_opts(conf)
        conf([], project='doctor', default_config_files=[])
        conf.set_override('connection', url, group='database')
        self._db = db_api.get_connection(conf)

    def _with_checkpoints(self, faults: list[dict]) -> list[dict]:
        recorded = self._db.get_fault_checkpoints(
            [fault['id'] for fault in faults])
        for fault in faults:
            fault['checkpoints'] = (list(fault['checkpoints'])
                                    + recorded.get(fault['id'], []))
        return faults

    def get_fault(self, fault_id):
        from doctor.common import exception
        try:
            fault = self._db.get_fault(fault_id)
        except exception.FaultNotFound:
            raise NotFound(fault_id)
        except Exception as e:
            raise SourceError('cannot read the database: %s' % e) from e
        return self._with_checkpoints([fault])[0]

    def faults(self, since=None, host=None):
        marker = None
        while True:
            try:
                page = self._db.get_faults(host=host, limit=self.PAGE,
                                           marker=marker)
            except Exception as e:
                raise SourceError('cannot read the database: %s' % e) from e
            kept = [fault for fault in page if _after(fault, since)]
            yield from self._with_checkpoints(kept)
            if len(kept) < len(page) or len(page) < self.PAGE:
                return
            marker = page[-1]['id']


def _message_lines(lines: Iterable[str]) -> Iterable[str]:
    """``lines``, each record of a JSON log (oslo.log's JSONFormatter:
    one object a line, the message in ``message``) replaced by the lines
    of its message.
    """
    for line in lines:
        stripped = line.strip()
        if stripped.startswith('{') and '"message"' in stripped:
            try:
                record = json.loads(stripped)
            except ValueError:
                record = None
            if isinstance(record, dict) and isinstance(
                    record.get('message'), str):
                yield from record['message'].splitlines()
                continue
        yield line


def parse_lines(lines: Iterable[str]) -> list[dict]:
    """The checkpoints logged in ``lines``; other lines are skipped."""
    found = []
    for line in _message_lines(lines):
        start = line.find(checkpoints.LOG_MARKER + ' {')
        if start < 0:
            continue
        text = line[start + len(checkpoints.LOG_MARKER) + 1:].strip()
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if not isinstance(record, dict) or not record.get('fault_id') \
                or not record.get('name') or not record.get('timestamp'):
            continue
        found.append(record)
    return found


class LogSource(Source):
    """The services' log files: each checkpoint is one line of them."""

    def __init__(self, paths: list[str]) -> None:
        self._faults: dict[str, dict] = {}
        for path in paths:
            try:
                with open(path, encoding='utf-8', errors='replace') as log:
                    records = parse_lines(log)
            except OSError as e:
                raise SourceError('cannot read %s: %s' % (path, e)) from e
            for record in records:
                fault = self._faults.setdefault(record['fault_id'], {
                    'id': record['fault_id'], 'host': None,
                    'created_at': None, 'checkpoints': []})
                if record.get('host') and not fault['host']:
                    fault['host'] = record['host']
                fault['checkpoints'].append(
                    {key: record.get(key) for key in
                     ('name', 'component', 'timestamp', 'alarm_id')})
        for fault in self._faults.values():
            times = []
            for entry in fault['checkpoints']:
                try:
                    times.append(checkpoints.parse_time(entry['timestamp']))
                except ValueError:
                    continue
            if times:
                fault['created_at'] = checkpoints.iso(min(times))

    def get_fault(self, fault_id):
        try:
            return self._faults[fault_id]
        except KeyError:
            raise NotFound(fault_id)

    def faults(self, since=None, host=None):
        chosen = [fault for fault in self._faults.values()
                  if (host is None or fault['host'] == host)
                  and _after(fault, since)]
        chosen.sort(key=lambda fault: fault['created_at'] or '',
                    reverse=True)
        return iter(chosen)
