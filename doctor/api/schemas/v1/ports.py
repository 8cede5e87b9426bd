"""Request body of ``PUT /v1/ports/{port_id}``: the data-plane status."""

from typing import Any

from doctor.api import validation

UPDATE = validation.flag_update('port', 'dp_down')

_validator = validation.make_validator(UPDATE)


def validate_update(body: Any) -> dict:
    """Check the body of ``PUT /v1/ports/{port_id}``.

    :raises Invalid: naming the first offending field.
    """
    validation.check(_validator, body)
    return body
