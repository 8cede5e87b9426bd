"""The monitor: probe every host, report it down at its first missed reply.

One thread runs a selector loop for all hosts. Each host is probed on a
fixed grid, every ``interval`` seconds from its own starting offset (the
hosts' offsets spread evenly over one interval), so that probes never
drift however long each turn of the loop takes; after a stall the grid is
resumed, not caught up in a burst. A probe has ``probe_timeout`` seconds
(at most the interval) from when it was sent to be answered, and at most
one probe per host is in flight: a probe whose turn comes while the last
one still waits is sent as soon as that one is judged.

Each turn reads every reply waiting on the sockets *before* it looks at
any deadline: a reply that came in time counts even when the loop woke
late. A probe left unanswered at its deadline takes the host down at once,
and a reply brings it back up; each change is posted as one event
(:mod:`doctor.monitor.events`). That a host answers at start is logged,
not posted: doctor takes every host for up until it hears otherwise.
"""

import dataclasses
import heapq
import selectors
import socket
import threading
import time
import typing

from oslo_log import log
from oslo_service import service
from oslo_utils import uuidutils

from doctor.common import exception
from doctor.conf import monitor as conf_monitor
from doctor.monitor import events
from doctor.monitor import probes

LOG = log.getLogger(__name__)

UNKNOWN = 'unknown'
UP = events.UP
DOWN = events.DOWN

# Kinds of the timeline's entries: at equal times a deadline goes first, so
# that the probe it ends is judged before the next one is sent.
_DEADLINE = 0
_PROBE = 1


def parse_hosts(entries: list[str]) -> list[probes.Target]:
    """The targets of ``[monitor] hosts``.

    :raises ConfigInvalid: naming the first entry that is not
        ``name=address`` or a bare address, or that repeats a name or an
        address.
    """
    targets: list[probes.Target] = []
    names: dict[str, str] = {}
    addresses: dict[str, str] = {}
    for entry in entries:
        name, sep, address = entry.partition('=')
        name = name.strip()
        if not sep:
            address = name
        where = '[monitor] hosts entry "%s"' % entry
        if not name:
            raise exception.ConfigInvalid(reason='%s has no host name'
                                          % where)
        try:
            address = probes.normal_address(address)
        except ValueError as e:
            raise exception.ConfigInvalid(
                reason='%s: %s (expected "name=address" or a bare IP '
                       'address)' % (where, e)) from e
        if name in names:
            raise exception.ConfigInvalid(
                reason='%s names host %s again (first in "%s")'
                       % (where, name, names[name]))
        if address in addresses:
            raise exception.ConfigInvalid(
                reason='%s probes %s again (first in "%s")'
                       % (where, address, addresses[address]))
        names[name] = addresses[address] = entry
        targets.append(probes.Target(name, address))
    return targets


def probe_timeout(conf) -> float:
    """``[monitor] probe_timeout``, or the interval when it is unset.

    :raises ConfigInvalid: if it is longer than the interval.
    """
    interval = conf.monitor.interval
    timeout = conf.monitor.probe_timeout
    if timeout is None:
        return interval
    if timeout > interval:
        raise exception.ConfigInvalid(
            reason='[monitor] probe_timeout (%s s) must not be longer than '
                   '[monitor] interval (%s s): one probe per host is in '
                   'flight at a time' % (timeout, interval))
    return timeout


def families(targets: list[probes.Target]) -> tuple[int, ...]:
    found = tuple(dict.fromkeys(target.family for target in targets))
    return found or (socket.AF_INET,)


def check_config(conf) -> None:
    """Refuse, before launching, a configuration the monitor can't run.

    :raises ConfigInvalid: saying what is wrong.
    """
    targets = parse_hosts(conf.monitor.hosts)
    if not targets:
        raise exception.ConfigInvalid(
            reason='[monitor] hosts is empty: there is nothing to watch')
    probe_timeout(conf)
    if not conf.monitor.api_url.startswith(('http://', 'https://')):
        raise exception.ConfigInvalid(
            reason='[monitor] api_url "%s" is not an http:// or https:// '
                   'URL' % conf.monitor.api_url)
    if conf.monitor.method == probes.ICMP:
        try:
            probes.IcmpProber(families(targets)).close()
        except probes.ProbeUnavailable as e:
            raise exception.ConfigInvalid(
                reason='[monitor] method = icmp: %s; run doctor-monitor '
                       'as root or with CAP_NET_RAW, or set method to '
                       'auto or tcp' % e)
    events.make_session(conf)


class Transition(typing.NamedTuple):
    previous: str
    current: str


@dataclasses.dataclass
class HostState:
    """What the monitor knows of one host: the state machine.

    ``unknown`` until the first probe is judged; then ``up`` or ``down``.
    A reply to the probe in flight makes the host up, a probe left without
    reply at its deadline makes it down; each returns the transition it
    caused, or None.
    """

    target: probes.Target
    status: str = UNKNOWN
    seq: int = 0
    waiting: bool = False
    # monitor_event_id of the failure under way, while down.
    incident: str | None = None
    # A probe is due as soon as the one in flight is judged.
    deferred: bool = False

    def probe_sent(self) -> int:
        """A new probe is in flight: its sequence number."""
        self.seq = (self.seq + 1) & 0xffff
        self.waiting = True
        return self.seq

    def replied(self, seq: int) -> Transition | None:
        if not self.waiting or seq != self.seq:
            return None  # a late reply, or another prober's
        self.waiting = False
        return self._become(UP)

    def missed(self, seq: int) -> Transition | None:
        if not self.waiting or seq != self.seq:
            return None  # answered in time
        self.waiting = False
        return self._become(DOWN)

    def _become(self, status: str) -> Transition | None:
        if status == self.status:
            return None
        previous, self.status = self.status, status
        return Transition(previous, status)


class Monitor:
    """Watches ``[monitor] hosts`` and posts their changes.

    :param prober: the prober to use instead of the configured one.
    :param poster: where events go instead of a new
        :class:`~doctor.monitor.events.EventPoster`.
    :param clock: monotonic seconds (the probe schedule).
    :param wall: seconds since the epoch (the events' times).
    :raises ConfigInvalid: for bad ``[monitor]`` options.
    """

    def __init__(self, conf, prober: probes.Prober | None = None,
                 poster: events.EventPoster | None = None,
                 clock: typing.Callable[[], float] = time.monotonic,
                 wall: typing.Callable[[], float] = time.time) -> None:
        self.conf = conf
        self.name = conf.monitor.name
        self.targets = parse_hosts(conf.monitor.hosts)
        self.interval = conf.monitor.interval
        self.probe_timeout = probe_timeout(conf)
        self.prober = prober
        self.poster = (poster if poster is not None
                       else events.EventPoster(conf))
        self._clock = clock
        self._wall = wall
        self._hosts = {target.address: HostState(target)
                       for target in self.targets}
        self._timeline: list[tuple[float, int, int, str, int]] = []
        self._order = 0
        self._selector: selectors.BaseSelector | None = None
        self._waker: tuple[socket.socket, socket.socket] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # life cycle

    def start(self) -> None:
        """Choose the prober, then probe in a thread of its own."""
        if self.prober is None:
            self.prober = probes.make_prober(
                self.conf.monitor.method, self.conf.monitor.tcp_port,
                families(self.targets))
        self._selector = selectors.DefaultSelector()
        reader, writer = self._waker = socket.socketpair()
        reader.setblocking(False)
        self._selector.register(reader, selectors.EVENT_READ,
                                self._woken)
        self.prober.attach(self._selector, self._on_reply)
        self.poster.start()
        self.schedule(self._clock())
        LOG.info('Watching %(count)d host(s) by %(how)s every %(interval)s '
                 's (replies awaited %(timeout)s s), reporting to %(url)s '
                 'as %(name)s',
                 {'count': len(self.targets), 'how': self.prober.describe(),
                  'interval': self.interval, 'timeout': self.probe_timeout,
                  'url': self.poster.url, 'name': self.name})
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run,
                                        name='doctor-monitor-probes',
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._waker is not None:
            try:
                self._waker[1].send(b'x')
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self.prober is not None:
            self.prober.close()
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self._waker is not None:
            for sock in self._waker:
                sock.close()
            self._waker = None
        # An in-flight POST ends within the HTTP timeout.
        self.poster.stop(timeout=(self.conf.monitor.timeout
                                  or conf_monitor.HTTP_TIMEOUT) + 1)

    def states(self) -> dict[str, str]:
        """Each host's status by name: ``unknown``, ``up`` or ``down``."""
        return {state.target.name: state.status
                for state in self._hosts.values()}

    # the schedule

    def schedule(self, now: float) -> None:
        """Put each host's first probe on the timeline.

        The first probes are spread over one interval from ``now``.
        """
        self._timeline = []
        step = self.interval / max(len(self.targets), 1)
        for index, target in enumerate(self.targets):
            self._push(now + index * step, _PROBE, target.address, 0)

    def _push(self, when: float, kind: int, address: str, seq: int) -> None:
        self._order += 1
        heapq.heappush(self._timeline, (when, kind, self._order, address,
                                        seq))

    def next_due(self) -> float | None:
        """When the timeline next needs the loop, in clock seconds."""
        return self._timeline[0][0] if self._timeline else None

    def run_due(self, now: float) -> None:
        """Judge the deadlines and send the probes due at ``now``."""
        while self._timeline and self._timeline[0][0] <= now:
            when, kind, _order, address, seq = heapq.heappop(
                self._timeline)
            try:
                if kind == _DEADLINE:
                    self._deadline(address, seq)
                else:
                    self._probe(address, when, now)
            except Exception:
                LOG.exception('Probing %s failed', address)

    def _probe(self, address: str, when: float, now: float) -> None:
        state = self._hosts[address]
        following = when + self.interval
        if following <= now:
            # Fell behind by whole intervals: back on the grid, no burst.
            skipped = int((now - when) // self.interval)
            following = when + (skipped + 1) * self.interval
        self._push(following, _PROBE, address, 0)
        if state.waiting:
            # The probe in flight keeps its full time to be answered; this
            # one follows as soon as it is judged.
            state.deferred = True
            return
        self._send(state, now)

    def _send(self, state: HostState, now: float) -> None:
        assert self.prober is not None
        state.deferred = False
        seq = state.probe_sent()
        self._push(now + self.probe_timeout, _DEADLINE,
                   state.target.address, seq)
        self.prober.send(state.target, seq)

    def _deadline(self, address: str, seq: int) -> None:
        state = self._hosts[address]
        if not (state.waiting and state.seq == seq):
            return  # answered in time
        assert self.prober is not None
        self.prober.cancel(state.target)
        self._changed(state, state.missed(seq))
        if state.deferred:
            self._send(state, self._clock())

    def _on_reply(self, address: str, seq: int) -> None:
        state = self._hosts.get(address)
        if state is None:
            return
        self._changed(state, state.replied(seq))
        if state.deferred and not state.waiting:
            self._send(state, self._clock())

    # the loop

    def _woken(self, mask: int) -> None:
        assert self._waker is not None
        try:
            self._waker[0].recv(64)
        except OSError:
            pass

    def _run(self) -> None:
        assert self._selector is not None
        selector = self._selector
        while not self._stopping.is_set():
            due = self.next_due()
            timeout = (None if due is None
                       else max(0.0, due - self._clock()))
            try:
                ready = selector.select(timeout)
            except Exception:
                LOG.exception('Waiting for replies failed')
                self._stopping.wait(self.interval)
                ready = []
            for key, mask in ready:
                try:
                    key.data(mask)
                except Exception:
                    LOG.exception('Handling a reply failed')
            if not self._stopping.is_set():
                self.run_due(self._clock())

    # changes

    def _changed(self, state: HostState,
                 transition: Transition | None) -> None:
        if transition is None:
            return
        target = state.target
        if transition.current == DOWN:
            detected = self._wall()
            state.incident = uuidutils.generate_uuid()
            event = events.host_event(target.name, DOWN, self.name,
                                      state.incident, detected)
            # Checkpoint 0 of the fault: the profiler reads this line.
            LOG.info('Host %(host)s (%(address)s) down: event %(event)s at '
                     '%(time)s (checkpoint 0 hostdown, monitor event '
                     '%(incident)s)',
                     {'host': target.name, 'address': target.address,
                      'event': event['id'], 'time': event['time'],
                      'incident': state.incident})
            self.poster.post(event)
        elif transition.previous == DOWN:
            incident = state.incident or uuidutils.generate_uuid()
            state.incident = None
            event = events.host_event(target.name, UP, self.name, incident,
                                      self._wall())
            LOG.info('Host %(host)s (%(address)s) up again: event '
                     '%(event)s at %(time)s (monitor event %(incident)s)',
                     {'host': target.name, 'address': target.address,
                      'event': event['id'], 'time': event['time'],
                      'incident': incident})
            self.poster.post(event)
        else:
            LOG.info('Host %(host)s (%(address)s) answers',
                     {'host': target.name, 'address': target.address})


class MonitorService(service.Service):
    """doctor-monitor as an oslo.service service."""

    def __init__(self, conf) -> None:
        super().__init__()
        self.conf = conf
        self.monitor: Monitor | None = None

    def start(self) -> None:
        super().start()
        self.monitor = Monitor(self.conf)
        self.monitor.start()

    def stop(self, graceful: bool = False) -> None:
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor = None
        super().stop(graceful)
