"""The browser session id: what a streamer's ban names besides the player.

A guest can always get a new player id (connect without a token), so a ban by player alone is
easy to dodge. The session id outlives guest tokens: it is the ``nq_sid`` cookie, which the
server sets on the websocket handshake when the browser has none, or for clients without
cookies the ``sid`` query parameter. It is not a secret and proves nothing; it only makes the
common case (same browser, new guest) fail.
"""

from __future__ import annotations

import re
import secrets

from starlette.websockets import WebSocket

COOKIE = "nq_sid"
SID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
COOKIE_MAX_AGE_S = 365 * 86_400


def session_of(ws: WebSocket) -> tuple[str, list[tuple[bytes, bytes]]]:
    """(session id, headers for the handshake answer: a Set-Cookie when the id is new)."""
    for candidate in (ws.cookies.get(COOKIE), ws.query_params.get("sid")):
        if candidate and SID_RE.match(candidate):
            return candidate, []
    sid = secrets.token_urlsafe(16)
    cookie = f"{COOKIE}={sid}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax"
    return sid, [(b"set-cookie", cookie.encode())]
