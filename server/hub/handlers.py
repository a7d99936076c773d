"""What the server does with each typed client message (after server.wire.protocol.parse).

Moves are made through the room's kind (server/live/room_kinds.py), never by naming a kind:
a kind's own messages (a streamer host's) go to the kind that declares them.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from rooms.puzzle_room import RoomError
from server.api.sessions import clean_name
from server.context import AppContext
from server.hub.connection import Connection
from server.live.room_kinds import Way
from server.wire import game_protocol as gp
from server.wire import protocol as p
from store.competition.country_move import country_lock, move_country_points
from store.db import DATABASE_DOWN
from store.models import Player
from store.players import rename as rename_player
from workers.advanced_requests import enqueue_test_text


def _room_of(conn: Connection) -> str:
    if conn.room_id is None:
        raise RoomError(p.ERR_NOT_IN_ROOM, "join a room first")
    return conn.room_id


async def handle(ctx: AppContext, conn: Connection, msg: p.ClientMessage) -> None:
    try:
        await _handle(ctx, conn, msg)
    except DATABASE_DOWN as exc:
        # A move writes its row before its room event: a failed write has emitted nothing.
        raise RoomError(p.ERR_UNAVAILABLE, p.UNAVAILABLE_MESSAGE) from exc


async def _handle(ctx: AppContext, conn: Connection, msg: p.ClientMessage) -> None:
    kinds = ctx.service.kinds
    own = kinds.for_message(msg)
    if own is not None:
        await own.handle(conn, msg)
        return
    match msg:
        case p.Join(room=room, since=since):
            await ctx.hub.join_room(conn, room, since, Way.JOIN)  # the room's kind admits
        case p.Leave():
            room = _room_of(conn)
            await ctx.hub.leave_room(conn)
            await ctx.service.forget_room(conn.player_id)
            await conn.send({"type": "left", "room": room, "player": {"id": conn.player_id}})
        case p.Submit(text=text, neuron_id=neuron_id):
            room = _room_of(conn)
            await kinds.of(room).submit(conn, room, text, neuron_id=neuron_id)
        case p.Vote(explanation_id=explanation_id):
            room = _room_of(conn)
            await kinds.of(room).vote(conn, room, explanation_id)
        case p.TestText(text=text, request_id=request_id):
            await _test_text(ctx, conn, text, request_id or uuid.uuid4().hex[:12])
        case p.ShareActivations(request_id=request_id):
            await _share(ctx, conn, request_id)
        case p.Rename(name=name, country=country):
            await _rename(ctx, conn, name, country)
        case gp.PassRound():  # every kind's rounds end early once everyone is done
            await ctx.service.pass_round(_room_of(conn), conn.player_id)
        case p.Ping(t=t):
            await conn.send({"type": "pong", "t": t})
        case p.Pong():
            pass  # receiving it already counted as a sign of life
        case p.Resync():
            conn.request_sync(_room_of(conn), None)


async def _test_text(ctx: AppContext, conn: Connection, text: str, request_id: str) -> None:
    room = _room_of(conn)
    if not text.strip():
        raise RoomError(p.ERR_BAD_FIELD, "test_text needs some text")
    campaign, neuron_index = await ctx.service.test_text_target(room)
    args = (campaign, neuron_index, text, conn.player_id, room, request_id)
    # On the campaign's pending list too, so that a worker answers concurrent requests in one batch.
    await run_in_threadpool(enqueue_test_text, ctx.r_sync, ctx.settings, *args)
    await conn.send({"type": "test_queued", "request_id": request_id, "neuron_index": neuron_index})


async def _share(ctx: AppContext, conn: Connection, request_id: str) -> None:
    room = _room_of(conn)
    # Only an answer the worker sent through this server can be shared, so nobody can post
    # made-up activations as the neuron's.
    result = conn.activations.get(request_id)
    if result is None:
        raise RoomError(p.ERR_NOT_FOUND, f"no test_text answer {request_id!r} on this connection")
    event = {
        "type": "shared_activations",
        "player": {"id": conn.player_id, "name": conn.player["name"]},
        "request_id": request_id,
        "neuron": result.get("neuron"),
        "tokens": result.get("tokens", []),
        "display": result.get("display", []),
        "activations": result.get("activations", []),
        "max": result.get("max"),
    }
    await ctx.service.emit(room, [event])


async def _rename(ctx: AppContext, conn: Connection, name: str, country: str | None) -> None:
    cleaned = clean_name(name, ctx.settings.max_name_chars)
    if cleaned is None:
        raise RoomError(p.ERR_BAD_FIELD, f"a name is 1-{ctx.settings.max_name_chars} printable characters")
    if conn.room_id is not None:  # a family-friendly room filters it
        cleaned = await ctx.service.kinds.of(conn.room_id).shown_name(conn.room_id, cleaned)

    def store() -> None:
        # A new country takes the player's points along to its boards, as a rebuild would put
        # them (move_country_points does nothing for a name alone); one change at a time
        # (redis-py's lock): two tabs changing it at once left the points on the board of a
        # country the player was no longer of.
        one_at_a_time: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
        if country is not None:
            one_at_a_time = country_lock(ctx.r_sync, conn.player_id)
        with one_at_a_time:
            with ctx.db.session() as s:
                before = s.get(Player, conn.player_id)
                was = before.country if before is not None else None
                rename_player(s, conn.player_id, cleaned, country)
            move_country_points(ctx.r_sync, conn.player_id, was, country, datetime.now(UTC), ctx.settings)

    await run_in_threadpool(store)
    conn.player["name"] = cleaned
    if country is not None:
        conn.player["country"] = country
    if conn.room_id is not None:
        await ctx.service.rename(conn.room_id, conn.player_id, cleaned)
    else:
        await conn.send({"type": "renamed", "player": {"id": conn.player_id, "name": cleaned}})
