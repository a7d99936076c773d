"""The floor for the load figures: a websocket fan-out with no game behind it.

Speaks just enough of the protocol for tests/bench/loadgen.py (``welcome``; ``join`` puts the
socket in a room held in this process's memory and answers with the room's version;
``submit`` and ``vote`` are broadcast to the room at once as ``explanation`` and ``vote``
events numbered with the room's next version, encoded once). No Redis, no database, no
rules: what is left is uvicorn, the websocket library and the loadgen client on this machine.
bench_load.py runs it under the same uvicorn options as ``neuronquest web`` and reports our
figures as ratios to it.

    python -m uvicorn tests.bench.bare_fanout:app --port 8001
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

rooms: dict[str, set[WebSocket]] = {}
versions: dict[str, int] = {}  # numbered like our room log, so the generator checks delivery the same way
ids = itertools.count(1)


async def _broadcast(room: str, event: dict[str, Any]) -> None:
    versions[room] = versions.get(room, 0) + 1
    frame = orjson.dumps({"v": versions[room], **event}).decode()
    for ws in list(rooms.get(room, ())):
        with contextlib.suppress(Exception):
            await ws.send_text(frame)


async def endpoint(ws: WebSocket) -> None:
    await ws.accept()
    player = next(ids)
    await ws.send_text(orjson.dumps({"type": "welcome", "player": {"id": player}}).decode())
    room: str | None = None
    try:
        while True:
            message = orjson.loads(await ws.receive_text())
            kind = message.get("type")
            if kind == "join":
                room = str(message["room"])
                rooms.setdefault(room, set()).add(ws)
                await ws.send_text(orjson.dumps({"type": "room", "v": versions.get(room, 0)}).decode())
            elif kind == "submit" and room:
                explanation = {"id": next(ids), "text": message["text"], "player_id": player}
                await _broadcast(room, {"type": "explanation", "explanation": explanation})
            elif kind == "vote" and room:
                event = {"type": "vote", "explanation_id": message["explanation_id"], "player_id": player}
                await _broadcast(room, event)
    except Exception:
        pass
    finally:
        if room:
            rooms.get(room, set()).discard(ws)


async def healthz(_request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[WebSocketRoute("/ws", endpoint), Route("/healthz", healthz)])
