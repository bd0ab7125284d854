"""Read models: what the API shows of an aggregate, built from loaded rows and the domain (no SQL here)."""
