"""The commands of doctor's API v1."""
