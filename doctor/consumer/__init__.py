"""doctor-consumer: a sample webhook receiver for fired alarms."""
