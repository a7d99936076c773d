"""The HTTP API: the public read API (/api/v1), competition and matches, and the session routes."""
