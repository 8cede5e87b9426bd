"""The GuestMessage object: a server-group message between compute hosts.
"""

import typing

from oslo_versionedobjects import fields

from doctor.objects import base
from doctor.objects import fields as doctor_fields

PEER_STATE = 'peer_state'
MESSAGE = 'message'
KINDS = (PEER_STATE, MESSAGE)


@base.DoctorObjectRegistry.register
class GuestMessage(base.DoctorObject):
    """One server-group message on its way to the members of a group.

    ``kind`` is the ``servergroup`` message the guests receive
    (``peer_state`` or ``message``) and ``body`` its body. ``message_id``
    is unique per message: a compute agent delivers a message id to a
    guest once, however many routers forward it. ``recipients`` are the
    instances the message is for, on the compute host it is sent to (the
    router fills them in).

    Version history:

    * 1.0: initial version
    """

    VERSION = '1.0'

    fields = {
        'kind': fields.EnumField(valid_values=KINDS),
        'message_id': fields.StringField(),
        'sender': fields.StringField(),
        'body': doctor_fields.JsonDictField(),
        'recipients': fields.ListOfStringsField(default=[]),
    }

    if typing.TYPE_CHECKING:
        kind: str
        message_id: str
        sender: str
        body: dict[str, typing.Any]
        recipients: list[str]
