"""HTTP routes: /healthz and the session API (/api/session, /api/register, /api/login,
/api/logout, /api/me).

Errors are JSON ``{"error": code, "message": text}`` with a 4xx status; nothing is changed.
While the database cannot be reached every route answers 503 with the error
``database_unavailable`` (the handler below, which server/app.py registers for all routes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

import orjson
import redis.asyncio as aioredis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket

from server.api.attempts import Attempts, wait_needed
from server.api.guard import error as _error  # the one JSON error helper
from server.api.guest_limit import allow_new_guest
from server.api.passwords import password_problem
from server.api.sessions import (
    LOGIN_RE,
    MAX_PASSWORD,
    Claims,
    check_password,
    claims_of_token,
    clean_name,
    guest_name,
    hash_password,
    issue_token,
)
from server.context import AppContext
from server.wire import protocol as p
from store.auth_sessions import revoke, revoke_all
from store.countries import iso_country
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


def _bearer_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


async def _bearer(ctx: AppContext, request: Request) -> Claims | None:
    """The claims of the request's bearer token while its session is open (not revoked/expired)."""
    token = _bearer_token(request)
    if not token:
        return None

    def check() -> Claims | None:
        with ctx.db.session() as s:
            return claims_of_token(s, ctx.settings, token)

    return await run_in_threadpool(check)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(wait_s: int, what: str) -> Response:
    message = f"too many {what}; try again in {wait_s} s"
    return _error(429, "rate_limited", message, {"Retry-After": str(wait_s)})


async def healthz(request: Request) -> Response:
    """200 when Redis and the database answer, 503 when either does not within
    Settings.healthz_timeout_s: a load balancer's probe is never left hanging on a dead service."""
    ctx: AppContext = request.app.state.ctx
    timeout = ctx.settings.healthz_timeout_s

    async def within(check: Awaitable[Any], failed: Any) -> Any:
        try:
            return await asyncio.wait_for(check, timeout)
        except Exception:  # timeout, connection refused: the service is down for this probe
            return failed

    async def redis_ok() -> bool:
        # Its own connection, without the pool's retries: a probe must not wait them out.
        client = aioredis.Redis.from_url(
            ctx.settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    database, redis_up = await asyncio.gather(
        within(run_in_threadpool(ctx.db.ping), False), within(redis_ok(), False)
    )
    queues = await within(run_in_threadpool(queue_depths, ctx.r_sync, ctx.settings), {}) if redis_up else {}
    body = {
        "database": database,
        "redis": redis_up,
        "queues": queues,
        "connections": ctx.hub.connection_count,
    }
    return JSONResponse(body, status_code=200 if database and redis_up else 503)


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
    code = iso_country(country) if isinstance(country, str) else None
    if country is not None and code is None:
        return _error(400, "bad_field", "country: an ISO 3166-1 alpha-2 code, e.g. DE")

    def create() -> dict[str, Any]:
        with ctx.db.session() as s:
            player = create_guest(s, name, code)
            token = issue_token(s, ctx.settings, int(player.id or 0))
            return {"token": token, "player": public(player, 0)}

    return JSONResponse(await run_in_threadpool(create))


def _credentials(data: dict[str, Any]) -> tuple[str, str] | str:
    login, password = data.get("login"), data.get("password")
    if not isinstance(login, str) or not LOGIN_RE.match(login):
        return "login: 3-32 of a-z 0-9 _ . -"
    if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD:
        return f"password: 1-{MAX_PASSWORD} characters"
    return login, password


async def register(request: Request) -> Response:
    """Turn the bearer's guest session into an account: {login, password} -> {token, player}.

    Points are kept. Every session of the guest is revoked and a new one opened: the guest
    token stops working, the answer carries the account's token."""
    ctx: AppContext = request.app.state.ctx
    claims = await _bearer(ctx, request)
    if claims is None:
        return _error(401, "bad_token", "send Authorization: Bearer <token> of your guest session")
    data = await _json_body(request)
    creds = _credentials(data) if data is not None else "send a JSON object"
    if isinstance(creds, str):
        return _error(400, "bad_field", creds)
    login, password = creds
    problem = password_problem(password, login, None, ctx.settings)
    if problem:
        return _error(400, "weak_password", problem)
    async with request.app.state.attempts.password_gate:
        password_hash = await run_in_threadpool(hash_password, password)
    player_id = claims.player_id

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
            revoke_all(s, player_id)
            token = issue_token(s, ctx.settings, player_id)
            return JSONResponse({"token": token, "player": public(player, total_points(s, player_id))})

    return await run_in_threadpool(upgrade)


async def login(request: Request) -> Response:
    """{login, password} -> {token, player} on any device; a new session each time.

    Failures are limited per login and per address (server/api/attempts.py): past the limit the
    answer is 429 with Retry-After and no password is checked. The argon2 check runs with no
    database connection held, a few at a time, and an unknown login is checked against a dummy
    hash, so the time taken does not tell which logins exist."""
    ctx: AppContext = request.app.state.ctx
    attempts: Attempts = request.app.state.attempts
    data = await _json_body(request)
    creds = _credentials(data) if data is not None else "send a JSON object"
    if isinstance(creds, str):
        return _error(400, "bad_field", creds)
    login_name, password = creds
    address = _address(request)
    wait = await wait_needed((attempts.login_account, login_name), (attempts.login_address, address))
    if wait:
        return _too_many(wait, "failed logins")

    def find() -> tuple[int, str | None] | None:
        with ctx.db.session() as s:
            player = find_by_login(s, login_name)
            return (int(player.id or 0), player.password_hash) if player is not None else None

    found = await run_in_threadpool(find)
    async with attempts.password_gate:
        ok = await run_in_threadpool(check_password, found[1] if found else None, password)
    if not ok or found is None:
        await attempts.login_account.failed(login_name)
        await attempts.login_address.failed(address)
        return _error(401, "bad_login", "unknown login or wrong password")
    player_id = found[0]

    def open_session() -> Response:
        with ctx.db.session() as s:
            player = get_player(s, player_id)
            if player is None:
                return _error(401, "bad_login", "unknown login or wrong password")
            token = issue_token(s, ctx.settings, player_id)
            return JSONResponse({"token": token, "player": public(player, total_points(s, player_id))})

    return await run_in_threadpool(open_session)


async def logout(request: Request) -> Response:
    """Revoke the bearer's session: its token stops working at once, on every web process."""
    ctx: AppContext = request.app.state.ctx
    claims = await _bearer(ctx, request)
    if claims is None:
        return _error(401, "bad_token", "send Authorization: Bearer <token> of an open session")

    def close() -> None:
        with ctx.db.session() as s:
            revoke(s, claims.sid)

    await run_in_threadpool(close)
    return Response(status_code=204)


async def me(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    claims = await _bearer(ctx, request)
    player_id = claims.player_id if claims else None

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
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
]
