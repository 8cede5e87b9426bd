"""Request body of ``PUT /v1/hosts/{name}``: a host reported down or up."""

from typing import Any

from doctor.api import validation

UPDATE = validation.flag_update('host', 'host_down_reported')

_validator = validation.make_validator(UPDATE)


def validate_update(body: Any) -> dict:
    """Check the body of ``PUT /v1/hosts/{name}``.

    :raises Invalid: naming the first offending field.
    """
    validation.check(_validator, body)
    return body
