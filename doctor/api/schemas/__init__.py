"""JSON Schemas of the API's request bodies, one module per resource."""
