"""Adding the HA guest channel to a running libvirt domain.

A guest booted without the channel (no flavor extra spec or image
property asked for it) gets it through libvirt: a virtio-serial
``<channel type='unix'>`` whose host end QEMU binds at
``<channel_dir>/<instance_id>.sock``, where the compute agent finds it.
libvirt-python is optional: doctor installs without it, and only this
module needs it (``pip install libvirt-python``, which builds against
libvirt's headers).

Nova names each domain after its instance by UUID, so the instance id
finds the domain.
"""

import os
from xml.etree import ElementTree

try:
    import libvirt
except ImportError:  # optional: see the module's docstring
    libvirt = None

from doctor.common import exception
from doctor.heartbeat import guest

SUFFIX = '.sock'
# The channel's target name: the guest sees /dev/virtio-ports/<name>.
CHANNEL_NAME = os.path.basename(guest.DEVICE)
ATTACHED = 'attached'
PRESENT = 'present'


ChannelError = exception.ChannelError


def channel_xml(instance_id: str, channel_dir: str) -> str:
    """The ``<channel>`` device of ``instance_id``'s HA guest channel."""
    channel = ElementTree.Element('channel', type='unix')
    ElementTree.SubElement(
        channel, 'source', mode='bind',
        path=os.path.join(channel_dir, instance_id + SUFFIX))
    ElementTree.SubElement(channel, 'target', type='virtio',
                           name=CHANNEL_NAME)
    return ElementTree.tostring(channel, encoding='unicode')


def has_channel(domain_xml: str) -> bool:
    """Whether a domain's XML has the HA guest channel already."""
    root = ElementTree.fromstring(domain_xml)
    return any(target.get('name') == CHANNEL_NAME
               for target in root.findall('./devices/channel/target'))


def attach(uri: str, instance_id: str, channel_dir: str,
           persistent: bool = True) -> str:
    """Add the channel to the running domain of ``instance_id``.

    :param uri: the libvirt connection URI (``qemu:///system``).
    :param persistent: also in the domain's definition, so that it stays
        after a restart of the domain.
    :returns: :data:`ATTACHED`, or :data:`PRESENT` if it had one.
    :raises ChannelError: without libvirt-python, with no such domain, or
        when libvirt refuses (its message says why).
    """
    if libvirt is None:
        raise ChannelError(instance_id=instance_id,
                           reason='libvirt-python is not installed')
    try:
        connection = libvirt.open(uri)
    except libvirt.libvirtError as e:
        raise ChannelError(instance_id=instance_id,
                           reason='cannot connect to %s: %s' % (uri, e))
    try:
        try:
            domain = connection.lookupByUUIDString(instance_id)
        except libvirt.libvirtError as e:
            raise ChannelError(instance_id=instance_id,
                               reason='no domain: %s' % e)
        if has_channel(domain.XMLDesc(0)):
            return PRESENT
        flags = libvirt.VIR_DOMAIN_AFFECT_LIVE
        if persistent and domain.isPersistent():
            flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
        try:
            domain.attachDeviceFlags(channel_xml(instance_id, channel_dir),
                                     flags)
        except libvirt.libvirtError as e:
            raise ChannelError(instance_id=instance_id, reason=str(e))
        return ATTACHED
    finally:
        connection.close()
