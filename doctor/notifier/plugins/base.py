"""The interface of notifier plugins (stevedore ``doctor.notifiers``)."""

import abc
from urllib import parse

from oslo_config import cfg


class AlarmNotifier(metaclass=abc.ABCMeta):
    """Delivers fired alarms to the action URLs of one or more schemes.

    A plugin is registered in ``setup.cfg`` under ``doctor.notifiers`` with
    the URL scheme it serves as its name. One instance serves every
    delivery of its scheme, from several threads at once.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    @abc.abstractmethod
    def notify(self, action: parse.SplitResult, body: dict,
               request_id: str) -> None:
        """Deliver ``body`` (the webhook JSON) to ``action``.

        :raises DeliveryFailed: when the delivery failed for good, after
            any retries the plugin makes.
        """

    def close(self) -> None:
        """Release what the plugin holds (connections, files)."""


def safe_url(action: parse.SplitResult) -> str:
    """The action URL without its credentials, for logs and history."""
    if '@' in action.netloc:
        # Keep the host as written: an IPv6 address keeps its brackets and
        # a bad port does not raise here.
        action = action._replace(netloc=action.netloc.rpartition('@')[2])
    return action.geturl()
