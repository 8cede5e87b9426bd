"""The base of the API's REST controllers."""

from pecan import rest


class RestController(rest.RestController):
    """A pecan RestController that routes no path segment to a private
    attribute: ``/v1/alarms/__class__`` is an alarm id like any other.
    """

    def _lookup_child(self, remainder: str):
        if remainder.startswith('_'):
            return None
        return super()._lookup_child(remainder)
