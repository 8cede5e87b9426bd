"""Versioned objects: what crosses the bus between doctor's services."""


def register_all() -> None:
    """Import every object module so that the registry knows them."""
    __import__('doctor.objects.alarm')
    __import__('doctor.objects.entity')
    __import__('doctor.objects.firing')
    __import__('doctor.objects.guest')
