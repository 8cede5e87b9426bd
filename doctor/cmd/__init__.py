"""The console scripts: one module each, each with a small main()."""

from collections.abc import Callable
import sys

from doctor.common import exception


def check_config(program: str, check: Callable[[], None]) -> None:
    """Run a check of the configuration before any service is launched.

    A service whose start() raises is restarted by oslo.service again and
    again; a configuration error found here is printed on one line to
    stderr instead, and the process exits with status 1.
    """
    try:
        check()
    except exception.ConfigInvalid as e:
        message = ' '.join(str(e).splitlines())
        print('%s: %s' % (program, message), file=sys.stderr)
        sys.exit(1)
