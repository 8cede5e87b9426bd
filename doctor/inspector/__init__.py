"""doctor-inspector: from a raw failure to corrected state, in parallel."""
