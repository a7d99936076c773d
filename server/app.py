"""The Starlette app: ``create_app(settings)`` for `neuronquest web`, tests and any ASGI server.

Routes live in their own modules (server/api/session_routes.py, server/hub/endpoint.py); this file only
wires them to one AppContext built at startup and torn down at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hiredis
import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from config.settings import Settings, get_settings
from server.api import competition as competition_api
from server.api import first_start, lookups, team_routes
from server.api import matches as matches_api
from server.api import reference as reference_api
from server.api import session_routes as http_api
from server.api.attempts import Attempts
from server.api.edge import BodyLimit, SecurityHeaders, redact_tokens_in_logs
from server.context import AppContext
from server.hub.caps import SocketCaps
from server.hub.channels import WaitingRedisCluster
from server.hub.direct_socket import WS_PATH, DirectSocketApp
from server.hub.endpoint import ws_endpoint
from server.hub.fanout import Hub
from server.live.kinds import register_kinds
from server.live.match_rooms import MatchRooms
from server.live.redis_watch import RedisWatch
from server.live.room_service import RoomService
from server.live.streamer import StreamerRooms
from server.wire.protocol import Limits
from store.competition.boards_rebuild import ensure_boards
from store.db import DATABASE_DOWN, Database

CLIENT_DIR = Path(__file__).resolve().parent.parent / "client"


async def index(request: Request) -> Response:
    return FileResponse(CLIENT_DIR / "index.html")


async def favicon(request: Request) -> Response:
    # Browsers ask for /favicon.ico on pages that name no icon (the JSON API, a file download);
    # every page of the client names /static/icon.svg, the same picture.
    return FileResponse(CLIENT_DIR / "icon.svg", media_type="image/svg+xml")


def _rooms_redis(settings: Settings, r: aioredis.Redis) -> aioredis.Redis | WaitingRedisCluster:
    """Where rooms live: the Redis Cluster of ``rooms_redis_cluster_url`` (sharded pub/sub,
    server/hub/channels.py), else the process's one Redis."""
    if not settings.rooms_redis_cluster_url:
        return r
    return WaitingRedisCluster.from_url(
        settings.rooms_redis_cluster_url,
        max_connections=settings.redis_max_connections,
        retry=AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), 8),
    )


class HiredisPacked(aioredis.Connection):
    """Commands packed by hiredis (C), as redis-py's synchronous client does and its asyncio one
    does not: a join's pipeline (a script with ~20 keys and the snapshot's reads) cost ~40 us of
    Python per script call to pack, ~4 with hiredis (issue 19's connect storm)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):  # "CONFIG GET" and the like: words sent apart
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        return [
            hiredis.pack_command(
                tuple(bytes(a) if isinstance(a, bytearray | memoryview) else a for a in args)
            )
        ]


def create_app(settings: Settings, *, clock: Callable[[], float] | None = None) -> Starlette:
    """The app for these settings; ``clock`` (wall-clock seconds) lets tests drive room time."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings)
        # Thousands of sockets share one pool: a burst of joins or votes waits for a free
        # connection (BlockingConnectionPool) instead of failing with "Too many connections".
        # A restarted Redis leaves every pooled connection stale: each command retries on a
        # fresh connection for a few seconds instead of failing (tests/faults).
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout=20,
            retry=AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), 8),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            health_check_interval=10,
            # No CLIENT SETINFO on each new connection: redis-py looks its own version up in
            # the package metadata for every one (~10 ms each, 200 of them in a connect storm's
            # first second), and Redis 6.2 (the embedded one) answers it with an error anyway.
            driver_info=None,
            connection_class=HiredisPacked,
        )
        r = aioredis.Redis.from_pool(pool)
        r_sync = redis.Redis.from_url(settings.redis_url)
        rooms_r = _rooms_redis(settings, r)
        service = RoomService(settings, db, rooms_r, r_sync, **({"clock": clock} if clock else {}))
        hub = Hub(service, rooms_r, r)
        await hub.start()
        await service.leases.start()  # ghost members of dead processes go (server/live/member_leases.py)
        # A Redis that lost its boards (wiped, or new) gets them back from SQL before play.
        await run_in_threadpool(ensure_boards, r_sync, db, datetime.now(UTC), settings)
        # ...and whenever Redis loses its data under this process, with the rooms resynced.
        redis_watch = RedisWatch(settings, db, r, r_sync, hub)
        await redis_watch.start()
        limits = Limits(
            max_frame_bytes=settings.max_frame_bytes,
            max_text_chars=settings.max_text_chars,
            max_explanation_chars=settings.max_explanation_chars,
            max_name_chars=settings.max_name_chars,
        )
        kinds = register_kinds(hub, r_sync)  # puzzle, quest, team match, streamer rooms
        kinds.start()
        app.state.ctx = AppContext(settings, db, r, r_sync, service, hub, limits)
        app.state.matches = kinds.named(MatchRooms.name)  # the match API opens matches through it
        # Failed logins, room codes and API keys (issue 16); open sockets per player and address.
        app.state.attempts = attempts = Attempts(settings, r)
        streamer = kinds.named(StreamerRooms.name)
        assert isinstance(streamer, StreamerRooms)
        streamer.attempts = attempts
        app.state.socket_caps = SocketCaps(settings)
        try:
            yield
        finally:
            await redis_watch.stop()
            await kinds.aclose()
            await hub.stop()
            await service.leases.stop()
            await asyncio.to_thread(service.lock_keeper.close)
            await r.aclose()
            if rooms_r is not r:
                await rooms_r.aclose()
            r_sync.close()
            db.dispose()

    routes = [
        Route("/", index),
        Route("/favicon.ico", favicon),
        *http_api.routes,
        *reference_api.routes,
        *competition_api.routes,
        *matches_api.routes,
        *team_routes.routes,
        *first_start.routes,
        *lookups.routes,
        WebSocketRoute(WS_PATH, ws_endpoint),
        Mount("/static", StaticFiles(directory=CLIENT_DIR, check_dir=False), name="static"),
    ]
    redact_tokens_in_logs()
    # A database outage is a 503, not a 500 page; an unknown address a page with the way back.
    handlers: dict[Any, Any] = dict.fromkeys(DATABASE_DOWN, http_api.database_unavailable)
    handlers[404] = not_found
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
    ]
    # /ws sockets skip the middleware and routing layers (server/hub/direct_socket.py).
    return DirectSocketApp(
        routes=routes, lifespan=lifespan, exception_handlers=handlers, middleware=middleware
    )


async def not_found(request: Request, exc: Exception) -> Response:
    """An unknown address: the API's JSON error for /api paths, a page with the way back for the rest
    (Starlette's plain "Not Found" left a player who mistyped a link on a blank page)."""
    if request.url.path.startswith("/api"):
        return JSONResponse({"error": "not_found", "message": f"no such address: {request.url.path}"}, 404)
    return FileResponse(CLIENT_DIR / "404.html", status_code=404)


def app_from_environment() -> Starlette:
    """A factory for ``uvicorn --factory server.app:app_from_environment`` (reads NQ_* once)."""
    return create_app(get_settings())
