"""HTTP routes: /healthz and the session API (/api/session, /api/register, /api/login, /api/me).

Errors are JSON ``{"error": code, "message": text}`` with a 4xx status; nothing is changed.
While the database cannot be reached every route answers 503 with the error
``database_unavailable`` (the handler below, which server/app.py registers for all routes).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket

from server.api.guard import error as _error  # the one JSON error helper
from server.api.guest_limit import allow_new_guest
from server.api.sessions import (
    LOGIN_RE,
    MAX_PASSWORD,
    MIN_PASSWORD,
    bearer_player,
    check_password,
    clean_name,
    guest_name,
    hash_password,
    make_token,
)
from server.context import AppContext
from server.wire import protocol as p
from store.players import (
    LoginTaken,
    create_guest,
    find_by_login,
    get_player,
    make_account,
    public,
    total_points,
)
from workers.queues import queue_depths

log = logging.getLogger(__name__)


async def database_unavailable(conn: Request | WebSocket, exc: Exception) -> Response | None:
    """A request that needed the database while it is unreachable (store.db.DATABASE_DOWN).

    On /ws that is opening the session (server/hub/endpoint.py): an ``unavailable`` error and
    close 1013, so the client reconnects in a moment; moves are answered by server/hub/handlers.py."""
    log.warning("%s: database unavailable: %s", conn.url.path, exc)
    if isinstance(conn, WebSocket):
        with contextlib.suppress(Exception):  # the socket may be gone already
            await conn.send_text(p.encode(p.error_event(p.ERR_UNAVAILABLE, p.UNAVAILABLE_MESSAGE), "json"))
            await conn.close(p.CLOSE_TRY_AGAIN_LATER, "database unavailable")
        return None
    return _error(503, "database_unavailable", p.UNAVAILABLE_MESSAGE)


async def _json_body(request: Request) -> dict[str, Any] | None:
    body = await request.body()
    if len(body) > 4096:
        return None
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _bearer(ctx: AppContext, request: Request) -> int | None:
    return bearer_player(request, ctx.settings.effective_secret_key())


async def healthz(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    database = await run_in_threadpool(ctx.db.ping)
    try:
        redis_ok = bool(await ctx.r.ping())
        queues = await run_in_threadpool(queue_depths, ctx.r_sync, ctx.settings)
    except Exception:
        redis_ok, queues = False, {}
    body = {
        "database": database,
        "redis": redis_ok,
        "queues": queues,
        "connections": ctx.hub.connection_count,
    }
    return JSONResponse(body, status_code=200 if database and redis_ok else 503)


async def new_session(request: Request) -> Response:
    """A guest session at once: {name?, country?} -> {token, player}."""
    ctx: AppContext = request.app.state.ctx
    address = request.client.host if request.client else "unknown"
    if not await allow_new_guest(ctx.r, address, ctx.settings.guest_sessions_per_ip_per_min):
        return _error(429, "flood", "too many new guest sessions from your address; keep your token")
    data = await _json_body(request)
    if data is None:
        return _error(400, "bad_body", "send a JSON object of at most 4 KiB")
    name = clean_name(str(data.get("name") or guest_name()), ctx.settings.max_name_chars)
    if name is None:
        return _error(400, "bad_field", f"a name is 1-{ctx.settings.max_name_chars} printable characters")
    country = data.get("country")
    if country is not None and not (isinstance(country, str) and len(country) == 2 and country.isalpha()):
        return _error(400, "bad_field", "country: two letters (ISO 3166), e.g. DE")

    def create() -> dict[str, Any]:
        with ctx.db.session() as s:
            player = create_guest(s, name, country.upper() if country else None)
            token = make_token(ctx.settings.effective_secret_key(), int(player.id or 0))
            return {"token": token, "player": public(player, 0)}

    return JSONResponse(await run_in_threadpool(create))


def _credentials(data: dict[str, Any]) -> tuple[str, str] | str:
    login, password = data.get("login"), data.get("password")
    if not isinstance(login, str) or not LOGIN_RE.match(login):
        return "login: 3-32 of a-z 0-9 _ . -"
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"password: {MIN_PASSWORD}-{MAX_PASSWORD} characters"
    return login, password


async def register(request: Request) -> Response:
    """Turn the bearer's guest session into an account: {login, password}; points are kept."""
    ctx: AppContext = request.app.state.ctx
    player_id = _bearer(ctx, request)
    if player_id is None:
        return _error(401, "bad_token", "send Authorization: Bearer <token> of your guest session")
    data = await _json_body(request)
    creds = _credentials(data) if data is not None else "send a JSON object"
    if isinstance(creds, str):
        return _error(400, "bad_field", creds)
    login, password = creds
    password_hash = await run_in_threadpool(hash_password, password)

    def upgrade() -> Response:
        with ctx.db.session() as s:
            player = get_player(s, player_id)
            if player is None:
                return _error(401, "bad_token", "unknown session")
            if not player.is_guest:
                return _error(409, "already_account", "this session already belongs to an account")
            try:
                player = make_account(s, player_id, login, password_hash)
            except LoginTaken:
                return _error(409, "login_taken", f"the login {login!r} is taken")
            assert player is not None
            return JSONResponse({"player": public(player, total_points(s, player_id))})

    return await run_in_threadpool(upgrade)


async def login(request: Request) -> Response:
    """{login, password} -> {token, player} on any device."""
    ctx: AppContext = request.app.state.ctx
    data = await _json_body(request)
    creds = _credentials(data) if data is not None else "send a JSON object"
    if isinstance(creds, str):
        return _error(400, "bad_field", creds)
    login_name, password = creds

    def check() -> Response:
        with ctx.db.session() as s:
            player = find_by_login(s, login_name)
            if player is None or not check_password(player.password_hash, password):
                return _error(401, "bad_login", "unknown login or wrong password")
            token = make_token(ctx.settings.effective_secret_key(), int(player.id or 0))
            return JSONResponse(
                {"token": token, "player": public(player, total_points(s, int(player.id or 0)))}
            )

    return await run_in_threadpool(check)


async def me(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    player_id = _bearer(ctx, request)

    def read() -> Response:
        with ctx.db.session() as s:
            player = get_player(s, player_id) if player_id is not None else None
            if player is None:
                return _error(401, "bad_token", "unknown session")
            return JSONResponse({"player": public(player, total_points(s, int(player.id or 0)))})

    return await run_in_threadpool(read)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/api/session", new_session, methods=["POST"]),
    Route("/api/register", register, methods=["POST"]),
    Route("/api/login", login, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
]
