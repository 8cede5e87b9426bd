"""doctor's REST API: a pecan app served by doctor-api or any WSGI server."""
