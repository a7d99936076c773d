"""The wire protocol: every frame a client or the server sends, typed and parsed in one
place, with no network I/O."""
