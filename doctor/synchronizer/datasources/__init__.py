"""Datasource plugins (``doctor.datasources`` entry points)."""
