"""What every /api/v1 request passes through: API key check, rate limit, parameter parsing, errors.

Errors are JSON ``{"error": code, "message": text}`` (``error``, also the session routes' one) with a 4xx
status; a read never changes anything, so a refused request loses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from server.api.apikeys import find_key
from server.api.ratelimit import Bucket, take
from server.context import AppContext
from store.pagination import MAX_LIMIT, BadCursor
from store.search import BadQuery

API_KEY_HEADER = "x-api-key"
MAX_ID = 2**31 - 1


Context = AppContext  # ``app.state.ctx``: one type for the hub and every route (server/context.py)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # orjson writes NaN/inf as null instead of producing invalid JSON.
        return orjson.dumps(content)


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSON:
    return JSON({"error": code, "message": message}, status_code=status, headers=headers)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


# -- parameters -----------------------------------------------------------------------
def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_parameter", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "bad_parameter", f"{name} must be between {low} and {high}")
    return value


def limit_param(request: Request, default: int = 20) -> int:
    return int_param(request, "limit", default, 1, MAX_LIMIT)


def choice_param(request: Request, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    raw = request.query_params.get(name) or default
    if raw is not None and raw not in choices:
        raise ApiError(400, "bad_parameter", f"{name} must be one of {', '.join(choices)}")
    return raw


def str_param(request: Request, name: str, max_len: int, *, required: bool = False) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        if required:
            raise ApiError(400, "bad_parameter", f"{name} is required")
        return None
    if len(raw) > max_len:
        raise ApiError(400, "bad_parameter", f"{name} is longer than {max_len} characters")
    if "\x00" in raw:
        raise ApiError(400, "bad_parameter", f"{name} contains a NUL character")
    return raw


# -- the wrapper ------------------------------------------------------------------------
async def _bucket(ctx: Context, request: Request) -> Bucket:
    secret = request.headers.get(API_KEY_HEADER)
    ip = request.client.host if request.client else "unknown"
    if secret is not None:
        # Wrong keys are limited per address (server/api/attempts.py): keys cannot be guessed.
        limit = getattr(request.app.state, "attempts", None)
        failures = limit.api_key_address if limit is not None else None
        wait = await failures.retry_after(ip) if failures is not None else 0
        if wait:
            raise ApiError(
                429,
                "rate_limited",
                f"too many wrong API keys; try again in {wait} s",
                {"Retry-After": str(wait)},
            )

        def lookup() -> Any:
            with ctx.db.session() as session:
                return find_key(session, secret.strip())

        key = await run_in_threadpool(lookup)
        if key is None:
            if failures is not None:
                await failures.failed(ip)
            raise ApiError(
                401, "bad_api_key", "unknown or revoked API key (omit the header for anonymous use)"
            )
        return Bucket("key", str(key.id), key.rate_per_s, key.burst)
    return Bucket("anon", ip, ctx.settings.api_anon_rate_per_s, ctx.settings.api_anon_burst)


Handler = Callable[[Request, Context], Awaitable[Any]]


def guarded(
    handler: Handler, cost: float | Callable[[Context], float] = 1.0
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint: checks the key, takes tokens, runs ``handler`` and turns its result into JSON."""

    async def endpoint(request: Request) -> Response:
        ctx: Context = request.app.state.ctx
        try:
            for name, value in request.path_params.items():
                # Ids are 32-bit integers in SQL; a larger one names nothing.
                if isinstance(value, int) and value > MAX_ID:
                    raise ApiError(404, "not_found", f"{name} {value} not found")
                if isinstance(value, str) and "\x00" in value:
                    raise ApiError(404, "not_found", f"{name} not found")
            bucket = await _bucket(ctx, request)
            price = cost(ctx) if callable(cost) else cost
            decision = await take(ctx.r, bucket, price)
            headers = {
                "X-RateLimit-Limit": str(bucket.burst),
                "X-RateLimit-Remaining": str(int(decision.remaining)),
            }
            if not decision.allowed:
                headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_s)))
                who = "this API key" if bucket.scope == "key" else "anonymous use (ask for an API key)"
                return error(429, "rate_limited", f"too many requests for {who}; retry later", headers)
            body = await handler(request, ctx)
            return JSON(body, headers=headers)
        except ApiError as exc:
            return error(exc.status, exc.code, exc.message, exc.headers)
        except (BadCursor, BadQuery) as exc:
            return error(400, "bad_parameter", str(exc))

    endpoint.__name__ = handler.__name__
    return endpoint


async def in_db(ctx: Context, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(session, *args, **kwargs)`` in a worker thread (the database driver blocks)."""

    def call() -> Any:
        with ctx.db.session() as session:
            return fn(session, *args, **kwargs)

    return await run_in_threadpool(call)
