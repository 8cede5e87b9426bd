"""doctor-guest-agent: the guest's end of the HA guest channel.

The agent itself is :mod:`doctor.heartbeat.guest`, a module of the
standard library alone that guests may also carry on its own.
"""

from doctor.heartbeat import guest


def main(argv: list[str] | None = None) -> None:
    guest.main(argv)
