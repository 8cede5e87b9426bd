"""The OpenStack client's plugin for doctor: ``openstack doctor …``."""
