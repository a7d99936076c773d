"""The web process: HTTP API, websocket hub, wire protocol, and the CLI that starts every role."""
