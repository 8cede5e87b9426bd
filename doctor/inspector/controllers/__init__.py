"""Controller plugins: how the inspector acts on the cloud."""
