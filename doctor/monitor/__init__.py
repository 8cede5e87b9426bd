"""doctor-monitor: the sample host monitor.

It probes the hosts of ``[monitor] hosts`` (ICMP echo or TCP connect,
:mod:`doctor.monitor.probes`), reports a host down at its first missed
reply and up again when it answers (:mod:`doctor.monitor.monitor`), and
posts each change to doctor's ``POST /v1/events``
(:mod:`doctor.monitor.events`).
"""
