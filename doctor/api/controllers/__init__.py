"""The API's pecan controllers."""
