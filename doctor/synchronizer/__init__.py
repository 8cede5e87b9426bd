"""The synchronizer: datasources and the entity store they keep current."""
