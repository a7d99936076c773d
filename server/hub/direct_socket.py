"""The app's ASGI entry: /ws sockets go straight to their endpoint, everything else to Starlette.

Through Starlette a socket's handler sat under ten coroutines of its own for the socket's whole
life (the app, two middlewares, the exception wrapper twice, the router twice, the route and the
session wrapper twice), with the closures, cells and bound methods they hold: ~40 of the ~110
objects the cyclic garbage collector tracked per idle socket. Every pass walks them: 10,000 held
sockets made a full pass of 0.6 s at load 4 and 2.1 s at load 7, longer than a room lock's lease
(issue 19, docs/BENCHMARKS.md "session 10"). None of those layers does anything for /ws: the
middlewares hand a websocket through untouched (server/api/edge.py), the router only finds the
route, and the one exception handler that applies to a socket (the database being down,
server/api/session_routes.py ``database_unavailable``) is called here as Starlette would.

The route stays in the route table for an app mounted under a root path, which goes the
Starlette way (the path then differs from the one matched here).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from server.api.session_routes import database_unavailable
from server.hub.endpoint import ws_endpoint
from store.db import DATABASE_DOWN

WS_PATH = "/ws"


class DirectSocketApp(Starlette):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != WS_PATH or scope.get("root_path"):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # what Starlette sets: the endpoint reads app.state through it
        ws = WebSocket(scope, receive=receive, send=send)
        try:
            await ws_endpoint(ws)
        except DATABASE_DOWN as exc:
            await database_unavailable(ws, exc)
