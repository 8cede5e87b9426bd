"""Request body schemas of API v1."""
