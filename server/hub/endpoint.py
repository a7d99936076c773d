"""The /ws endpoint: session, welcome, the receive loop with its limits, the heartbeat.

``/ws?format=json|msgpack&since=V&room=R&protocol=1`` — every parameter optional. The session
token never travels in the URL (URLs end up in access logs and browser history): the client
offers it as a subprotocol, ``Sec-WebSocket-Protocol: nq.v1, nq.token.<token>``, and the server
answers ``nq.v1``. Without a token the client becomes a new guest; with ``since`` it rejoins its
room (``room``, else the one the server remembers) and gets the events after version V, or a
full resync. A browser page from another origin is refused (server/hub/origins.py), and so is a
socket past the per-player or per-address cap (server/hub/caps.py).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from rooms.puzzle_room import RoomError
from server.api.guest_limit import allow_new_guest
from server.api.sessions import claims_of_token, renewed_token
from server.context import AppContext
from server.hub.browser_session import session_of
from server.hub.caps import SocketCaps
from server.hub.connection import Connection
from server.hub.flood import FloodGuard
from server.hub.handlers import handle
from server.hub.origins import origin_allowed
from server.live.room_kinds import Way
from server.wire import protocol as p
from store.players import get_player, public, total_points

log = logging.getLogger(__name__)


SUBPROTOCOL = "nq.v1"
TOKEN_PREFIX = "nq.token."


def offered(ws: WebSocket) -> tuple[str | None, str | None]:
    """(the subprotocol to answer, the token offered), from Sec-WebSocket-Protocol."""
    protocols = [str(x) for x in ws.scope.get("subprotocols", [])]
    token = next((x.removeprefix(TOKEN_PREFIX) for x in protocols if x.startswith(TOKEN_PREFIX)), None)
    return (SUBPROTOCOL if SUBPROTOCOL in protocols else None), token


def _session(ctx: AppContext, token: str) -> tuple[dict[str, Any], str] | None:
    """(public player, token to keep) for the token, None for a bad token (forged, expired, or
    revoked by logout or register)."""
    with ctx.db.session() as s:
        claims = claims_of_token(s, ctx.settings, token)
        player = get_player(s, claims.player_id) if claims is not None else None
        if player is None or claims is None:
            return None
        # The welcome carries the token to keep: renewed when half its life is gone.
        token = renewed_token(s, ctx.settings, token, claims)
        return public(player, total_points(s, int(player.id or 0))), token


def _int_param(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return max(0, int(value))
    except ValueError:
        return None


async def ws_endpoint(ws: WebSocket) -> None:
    ctx: AppContext = ws.app.state.ctx
    params = ws.query_params
    if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), ctx.settings):
        await ws.close(p.CLOSE_POLICY_VIOLATION, "origin not allowed")  # before accept: HTTP 403
        return
    subprotocol, offered_token = offered(ws)
    session_id, cookie_headers = session_of(ws)
    await ws.accept(subprotocol=subprotocol, headers=cookie_headers)
    if params.get("token"):
        message = "send the session token in Sec-WebSocket-Protocol (nq.token.<token>), never in the URL"
        await ws.send_text(p.encode(p.error_event(p.ERR_BAD_TOKEN, message), "json"))
        await ws.close(p.CLOSE_POLICY_VIOLATION, "token in URL")
        return
    fmt = params.get("format", "json")
    if fmt not in p.FORMATS:
        await ws.send_text(p.encode(p.error_event(p.ERR_BAD_FIELD, "format is json or msgpack"), "json"))
        await ws.close(p.CLOSE_POLICY_VIOLATION, "bad format")
        return
    if params.get("protocol", str(p.PROTOCOL_VERSION)) != str(p.PROTOCOL_VERSION):
        await ws.send_text(
            p.encode(p.error_event(p.ERR_UNSUPPORTED_VERSION, "this server speaks protocol 1"), fmt)
        )
        await ws.close(p.CLOSE_UNSUPPORTED_VERSION, "unsupported protocol")
        return
    address = ws.client.host if ws.client else "unknown"
    caps: SocketCaps = ws.app.state.socket_caps
    if caps.address_full(address):
        await _refuse(ws, fmt, f"at most {caps.per_address} open connections from one address")
        return
    if not offered_token and not await allow_new_guest(
        ctx.r, address, ctx.settings.guest_sessions_per_ip_per_min
    ):
        message = "too many new guest sessions from your address; reconnect with your token"
        await ws.send_text(p.encode(p.error_event(p.ERR_FLOOD, message), fmt))
        await ws.close(p.CLOSE_POLICY_VIOLATION, "guest flood")
        return
    # A new guest is created in a batch with whoever connects meanwhile (server/hub/guests.py).
    session = (
        await run_in_threadpool(_session, ctx, offered_token)
        if offered_token
        else await ctx.guests.new_guest()
    )
    if session is None:
        await ws.send_text(
            p.encode(p.error_event(p.ERR_BAD_TOKEN, "unknown session; connect without a token"), "json")
        )
        await ws.close(p.CLOSE_BAD_TOKEN, "bad token")
        return
    player, token = session
    refused = caps.take(int(player["id"]), address)
    if refused:
        await _refuse(ws, fmt, refused)
        return
    try:
        await _serve(ctx, ws, fmt, player, token, session_id)
    finally:
        caps.give_back(int(player["id"]), address)


async def _refuse(ws: WebSocket, fmt: str, message: str) -> None:
    frame = p.encode(p.error_event(p.ERR_FLOOD, message), fmt)
    await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_text(frame))
    await ws.close(p.CLOSE_POLICY_VIOLATION, "too many connections")


async def _serve(
    ctx: AppContext, ws: WebSocket, fmt: str, player: dict[str, Any], token: str, session_id: str
) -> None:
    params = ws.query_params
    conn = Connection(ws, fmt, player, ctx.service, ctx.settings.ws_outbox)
    conn.session_id = session_id
    await ctx.hub.add_connection(conn)
    try:
        welcome = {
            "type": "welcome",
            "protocol": p.PROTOCOL_VERSION,
            "token": token,
            "player": player,
            "heartbeat_s": ctx.settings.heartbeat_s,
            "limits": ctx.limits.to_json(),
        }
        await conn.send(welcome)
        since = _int_param(params.get("since"))
        if since is not None:
            room = params.get("room") or await ctx.service.last_room(conn.player_id)
            if room and p.ROOM_ID_RE.match(room):
                try:
                    await ctx.hub.join_room(conn, room, since, Way.RECONNECT)  # admitted as a join is
                except RoomError as exc:  # e.g. banned from that room meanwhile
                    await conn.send(p.error_event(exc.code, exc.message, "join"))
        # The receive loop runs in this task and the heartbeat in the hub's one sweep: every
        # task per socket costs memory (docs/BENCHMARKS.md "Load").
        await _receive_loop(ctx, conn)
    finally:
        conn.stop_pump()
        await ctx.hub.remove_connection(conn)
        await conn.close(p.CLOSE_NORMAL)


async def _receive_loop(ctx: AppContext, conn: Connection) -> None:
    s = ctx.settings
    flood = FloodGuard(s.flood_messages_per_s, s.flood_burst, s.flood_bytes_per_s, s.max_frame_bytes)
    while not conn.closed:
        message = await conn.ws.receive()
        if message["type"] == "websocket.disconnect":
            conn.closed = True
            return
        frame: str | bytes = (
            message["text"] if message.get("text") is not None else message.get("bytes") or b""
        )
        conn.last_seen = time.monotonic()
        size = len(frame) if isinstance(frame, bytes) else len(frame.encode())
        if not flood.allow(size):
            limit = f"{s.flood_messages_per_s:g} messages/s and {s.flood_bytes_per_s:g} bytes/s"
            await conn.send(p.error_event(p.ERR_FLOOD, f"too many messages: at most {limit}"))
            await conn.close(p.CLOSE_POLICY_VIOLATION, "flood")
            return
        parsed = p.parse(frame, ctx.limits)
        if isinstance(parsed, p.ProtocolError):
            conn.bad_frames += 1
            await conn.send(parsed.to_event())
            if conn.bad_frames >= p.MAX_BAD_FRAMES:
                await conn.close(p.CLOSE_POLICY_VIOLATION, "too many malformed frames")
                return
            continue
        try:
            await handle(ctx, conn, parsed)
        except RoomError as exc:
            await conn.send(p.error_event(exc.code, exc.message, parsed.type))
        except Exception:
            log.exception("handling %s from player %s", parsed.type, conn.player_id)
            await conn.send(p.error_event(p.ERR_INTERNAL, "the server failed on this message", parsed.type))
