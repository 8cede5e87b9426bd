"""The options of the list commands that page through what the API lists."""

import argparse

from doctor.i18n import _


def add_arguments(parser: argparse.ArgumentParser, items: str, item: str,
                  marker: str) -> None:
    """``--limit`` and ``--marker``, for a listing of ``items``.

    ``item`` names one of them, ``marker`` is the metavar of its id.
    """
    parser.add_argument('--limit', metavar='<limit>', type=int,
                        help=_('At most this many %s (one page)') % items)
    parser.add_argument('--marker', metavar=marker,
                        help=_('List after this %s') % item)
