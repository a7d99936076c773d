"""HTTP API modules: the public read API (/api/v1) and its helpers."""
