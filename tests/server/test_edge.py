"""The edge under attack (issue 16): foreign origins, socket farms, missing security headers, huge
bodies, a stalled Redis, forged cursors, guessed room codes and API keys, rooms that never
expire, explanations with NUL and bidi characters. Real server, Redis and database."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from sqlalchemy.engine import make_url
from sqlmodel import select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from config import keys
from config.settings import Settings
from server.wire import protocol as p
from store.db import Database
from store.models import Explanation
from tests.server.conftest import Client, Clock, LiveServer
from tests.server.test_streamer import host_room
from tests.support.tcp_proxy import TcpProxy


def _server(settings: Settings, **update: object) -> LiveServer:
    return LiveServer(settings.model_copy(update=update), Clock()).start()


@pytest.fixture
def edge_server(hub_settings: Settings, campaign: list[int]) -> Iterator[LiveServer]:
    server = _server(
        hub_settings,
        ws_per_player=3,
        ws_per_address=5,
        join_code_failures="3/minute",
        api_key_failures="3/minute",
        empty_room_ttl_s=600,
    )
    yield server
    server.stop()


# -- origins and caps ----------------------------------------------------------------------------
async def test_a_page_from_another_origin_cannot_open_the_socket(edge_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(edge_server.ws_url, origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    own = f"http://127.0.0.1:{edge_server.port}"
    async with connect(edge_server.ws_url, origin=own) as ws:  # type: ignore[arg-type]
        assert json.loads(await ws.recv())["type"] == "welcome"


async def test_another_allowed_origin_comes_from_settings(
    hub_settings: Settings, campaign: list[int]
) -> None:
    server = _server(hub_settings, ws_allowed_origins="https://game.example")
    try:
        async with connect(server.ws_url, origin="https://game.example") as ws:  # type: ignore[arg-type]
            assert json.loads(await ws.recv())["type"] == "welcome"
        with pytest.raises(InvalidStatus):
            await connect(server.ws_url, origin="https://evil.example")  # type: ignore[arg-type]
    finally:
        server.stop()


async def test_sockets_per_player_and_per_address_are_capped(edge_server: LiveServer) -> None:
    first = await Client.connect(edge_server.ws_url)
    token = (await first.expect("welcome"))["token"]
    tabs = [first]
    for _ in range(2):
        tab = await Client.connect(edge_server.ws_url, token=token)
        await tab.expect("welcome")
        tabs.append(tab)
    fourth = await Client.connect(edge_server.ws_url, token=token)  # the report: 400 for one token
    assert await fourth.refusal() == (p.ERR_FLOOD, p.CLOSE_POLICY_VIOLATION)
    others = []
    for _ in range(2):  # other players on the same address, up to the address cap of 5
        other = await Client.connect(edge_server.ws_url)
        await other.expect("welcome")
        others.append(other)
    sixth = await Client.connect(edge_server.ws_url)
    assert await sixth.refusal() == (p.ERR_FLOOD, p.CLOSE_POLICY_VIOLATION)
    await tabs.pop().close()  # a closed tab frees its place
    await asyncio.sleep(0.3)
    again = await Client.connect(edge_server.ws_url, token=token)
    await again.expect("welcome")
    for client in [*tabs, *others, again]:
        await client.close()


# -- HTTP ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "/static/js/app.js", "/static/host.html", "/healthz", "/api/v1", "/no-such-page"]
)
def test_every_page_carries_security_headers(edge_server: LiveServer, path: str) -> None:
    headers = httpx.get(edge_server.http_url + path).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


def test_the_overlay_may_be_embedded_by_streaming_pages(edge_server: LiveServer) -> None:
    headers = httpx.get(edge_server.http_url + "/static/overlay.html").headers
    assert "frame-ancestors *" in headers["content-security-policy"]
    assert "x-frame-options" not in headers and headers["x-content-type-options"] == "nosniff"


def _raw_request(port: int, head: bytes, body_chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """(the answer, body bytes sent before it came) for a request whose body is sent chunk by chunk."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        sock.settimeout(0.05)
        sent = 0
        answer = b""
        deadline = time.monotonic() + 10
        for chunk in body_chunks:
            try:
                answer = sock.recv(65536)
                if answer:
                    break
            except TimeoutError:
                pass
            except OSError:
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
            if time.monotonic() > deadline:
                break
        sock.settimeout(5)
        while not answer:
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                break
            if not answer:
                break
        return answer, sent


def test_a_huge_body_is_refused_before_it_is_read(edge_server: LiveServer) -> None:
    """The report's 150 MB POST: refused from its Content-Length, before a byte of it is read."""
    head = b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: 150000000\r\n\r\n"
    answer, sent = _raw_request(edge_server.port, head, iter([b"x" * 16384] * 200))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:60]
    assert sent < 1_000_000


def test_a_chunked_body_is_cut_off_at_the_limit(edge_server: LiveServer) -> None:
    head = b"POST /api/session HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"  # 16 KiB chunks, forever
    answer, sent = _raw_request(edge_server.port, head, iter([chunk] * 600))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:60]
    assert sent < 4_000_000  # cut near the 64 KiB limit (plus what the socket buffers held)


@pytest.mark.parametrize("service", ["redis", "database"])
def test_healthz_answers_503_within_a_second_when_a_service_stalls(
    hub_settings: Settings, campaign: list[int], service: str
) -> None:
    if service == "redis":
        target = urlsplit(hub_settings.redis_url)
        proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
        settings = hub_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{proxy.port}/0"})
    else:
        url = make_url(hub_settings.database_url)
        if url.get_backend_name() != "postgresql":
            pytest.skip("a database that stalls needs a network (PostgreSQL run)")
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        settings = hub_settings.model_copy(update={"database_url": proxied})
    server = _server(settings)
    try:
        assert httpx.get(f"{server.http_url}/healthz", timeout=10).status_code == 200
        proxy.cut("stall")  # the host stops answering: the worst case, no error, only silence
        for _ in range(2):
            start = time.monotonic()
            answer = httpx.get(f"{server.http_url}/healthz", timeout=10)
            took = time.monotonic() - start
            assert answer.status_code == 503 and answer.json()[service] is False
            assert took < 1.0, took
        proxy.restore()
    finally:
        proxy.restore()
        server.stop()
        proxy.close()


def _forge(kind: str, *values: object) -> str:
    raw = json.dumps([kind, *values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/api/v1/campaigns/{c}/neurons", _forge("neurons", 10**30)),
        ("/api/v1/campaigns/{c}/neurons", _forge("neurons", -(2**70))),
        ("/api/v1/explanations", _forge("explanations", 2**64)),
        ("/api/v1/campaigns", _forge("campaigns", "x" * 2000)),
    ],
)
def test_forged_cursors_answer_400(
    edge_server: LiveServer, hub_settings: Settings, path: str, cursor: str
) -> None:
    url = edge_server.http_url + path.format(c=hub_settings.default_campaign)
    answer = httpx.get(url, params={"cursor": cursor})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_parameter"


# -- guessing --------------------------------------------------------------------------------------
async def test_wrong_room_codes_are_limited_per_player_and_address(edge_server: LiveServer) -> None:
    host, created = await host_room(edge_server, private=True)
    code = created["code"]
    assert len(code) == 6  # 34 million codes, not 104,976
    guesser = await Client.connect(edge_server.ws_url)
    await guesser.expect("welcome")
    for guess in ("BBBBBB", "CCCCCC", "DDDDDD"):
        await guesser.send({"type": "join_code", "code": guess})
        assert (await guesser.expect("error", ref="join_code"))["code"] == p.ERR_NOT_FOUND
    await guesser.send({"type": "join_code", "code": code})  # even the right one, now: wait
    refused = await guesser.expect("error", ref="join_code")
    assert refused["code"] == p.ERR_FLOOD and "try again in" in refused["message"]
    accomplice = await Client.connect(edge_server.ws_url)  # a new guest on the same address
    await accomplice.expect("welcome")
    await accomplice.send({"type": "join_code", "code": "FFFFFF"})
    assert (await accomplice.expect("error", ref="join_code"))["code"] == p.ERR_FLOOD
    for client in (host, guesser, accomplice):
        await client.close()


def test_wrong_team_invite_codes_are_limited_too(edge_server: LiveServer) -> None:
    token = httpx.post(f"{edge_server.http_url}/api/session", json={}).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    url = f"{edge_server.http_url}/api/v1/teams/join"
    for guess in ("AAAAAAAA", "BBBBBBBB", "CCCCCCCC"):
        assert httpx.post(url, json={"code": guess}, headers=auth).status_code == 404
    refused = httpx.post(url, json={"code": "DDDDDDDD"}, headers=auth)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_wrong_api_keys_are_limited_per_address(edge_server: LiveServer) -> None:
    url = f"{edge_server.http_url}/api/v1"
    for i in range(3):
        assert httpx.get(url, headers={"X-API-Key": f"nq_guess_{i}"}).status_code == 401
    refused = httpx.get(url, headers={"X-API-Key": "nq_guess_4"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert httpx.get(url).status_code == 200  # anonymous reads go on


# -- rooms and text --------------------------------------------------------------------------------
async def test_an_empty_room_expires_and_a_join_keeps_it(
    edge_server: LiveServer, redis_client: redis.Redis
) -> None:
    client = await Client.connect(edge_server.ws_url)
    await client.expect("welcome")
    await client.join_round("lonely")
    state = keys.room_state("lonely")
    assert redis_client.ttl(state) == -1  # in use: no expiry
    await client.send({"type": "leave"})
    deadline = time.monotonic() + 5
    while redis_client.ttl(state) == -1 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for key in (state, keys.room_events("lonely"), keys.room_version("lonely")):
        assert 0 < redis_client.ttl(key) <= 600, key
    await client.join_round("lonely")
    assert redis_client.ttl(state) == -1
    await client.close()


async def test_explanations_lose_control_and_bidi_characters(edge_server: LiveServer, db: Database) -> None:
    client = await Client.connect(edge_server.ws_url)
    await client.expect("welcome")
    await client.join_round("clean-text")
    # "fires on cats" with a NUL, a right-to-left override, a decomposed accent and a tab
    await client.send({"type": "submit", "text": "cafe\u0301\x00 fires\u202e on\tcats\u2066!"})
    shown = (await client.expect("explanation"))["explanation"]["text"]
    assert shown == "caf\u00e9 fires on cats!"
    with db.session() as s:
        assert [e.text for e in s.exec(select(Explanation))] == [shown]
    await client.close()


@pytest.mark.parametrize("middleware", ["SecurityHeaders", "BodyLimit"])
def test_a_websocket_passes_the_edge_without_a_frame_of_its_own(middleware: str) -> None:
    """An open socket lives as long as the app's awaitable: the edge hands that awaitable back
    instead of awaiting it in a coroutine of its own, a frame kept per socket (issue 19)."""
    from server.api import edge

    calls: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        calls.append(str(scope["type"]))

    wrapped = edge.SecurityHeaders(app) if middleware == "SecurityHeaders" else edge.BodyLimit(app, 10)
    scope = {"type": "websocket", "path": "/ws", "headers": []}
    awaitable = wrapped(scope, None, None)  # type: ignore[arg-type]
    assert awaitable.cr_code is app.__code__  # type: ignore[attr-defined]  # the app's own coroutine
    asyncio.run(awaitable)  # type: ignore[arg-type]
    assert calls == ["websocket"]
