"""HA guest: heartbeats, health checks and server-group messaging.

:mod:`doctor.heartbeat.guest` is the guest's end (standard library only,
copied into guest images), :mod:`doctor.heartbeat.protocol` checks every
message a guest sends, :mod:`doctor.heartbeat.agent` is the compute
agent, the host's end of every guest channel of one compute host.
"""
