"""The msgspec shapes the API speaks: request bodies and answers (a low layer: api, services and views use it)."""
