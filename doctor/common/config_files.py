"""Finding the data files named in the configuration."""

import os
import sys

from doctor.common import exception


def find(conf, name: str, what: str) -> str:
    """Where the file ``name`` is, as a full path.

    A relative name is looked up beside the configuration files, in the
    installed ``etc/doctor`` and in the source tree, in that order.

    :param what: what the file is, for the error message.
    :raises ConfigInvalid: if it is nowhere.
    """
    if os.path.isabs(name):
        return name
    found = conf.find_file(name)
    if found:
        return os.path.abspath(found)
    here = os.path.dirname(os.path.abspath(__file__))
    for directory in (os.path.join(sys.prefix, 'etc', 'doctor'),
                      os.path.join(here, '..', '..', 'etc', 'doctor')):
        candidate = os.path.normpath(os.path.join(directory, name))
        if os.path.exists(candidate):
            return candidate
    raise exception.ConfigInvalid(reason='%s %s not found' % (what, name))
