"""Which browser pages may open the game's websocket (the Origin header of the handshake).

A websocket is not covered by the same-origin policy: any page a player visits could open
one with the player's cookies. By default only the app's own pages may (the Origin's host and
port are the request's Host); Settings.ws_allowed_origins names others (an embedding site).
Clients that send no Origin (scripts, bots, the load generator) are not browsers, and are let in.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from config.settings import Settings


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    if origin is None:
        return True
    allowed = {o.strip().rstrip("/").lower() for o in settings.ws_allowed_origins.split(",") if o.strip()}
    if allowed:
        return origin.rstrip("/").lower() in allowed or "*" in allowed
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == (host or "").lower()
