"""Real servers for hub tests: uvicorn on a random port (in a thread, or a separate process),
real websocket clients, a small campaign in the real database."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgpack
import orjson
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from config.settings import Settings
from server.app import create_app
from server.cli.embedded_redis import free_port
from store.db import Database
from store.models import Campaign, Neuron, Snippet
from tests.support.processes import settings_env

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """Wall-clock time that a test can move forward; the server reads it for room deadlines."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def seed_campaign(db: Database, name: str, neurons: int = 3, *, source: str = "neurons") -> list[int]:
    """A ready campaign of ``neurons`` units: neurons, or the latents of SAE ``source``."""
    unit = "neuron" if source == "neurons" else "latent"
    with db.session() as s:
        campaign = Campaign(
            name=name,
            model="minilm-l6",
            layer=3,
            unit=unit,
            source=source,
            status="ready",
            neuron_end=neurons,
        )
        s.add(campaign)
        s.commit()
        ids = []
        for index in range(neurons):
            neuron = Neuron(campaign_id=campaign.id, index=index, max_activation=2.0)
            s.add(neuron)
            s.commit()
            ids.append(int(neuron.id or 0))
            for rank in range(2):  # a random (quiet) window per neuron, for scoring
                s.add(
                    Snippet(
                        neuron_id=neuron.id,
                        kind="random",
                        rank=rank,
                        tokens=["It", " rained", " all", " day", f" {rank}"],
                        activations=[0.0, 0.0, 0.1, 0.0, 0.0],
                        max_activation=0.1,
                        max_index=2,
                    )
                )
            for rank in range(2):
                tokens = ["The", " cat", " sat", " on", f" mat{rank}"]
                s.add(
                    Snippet(
                        neuron_id=neuron.id,
                        kind="top",
                        rank=rank,
                        tokens=tokens,
                        activations=[0.0, 2.0, 0.5, 0.0, 1.0],
                        max_activation=2.0,
                        max_index=1,
                    )
                )
            s.commit()
        return ids


@pytest.fixture
def hub_settings(settings: Settings) -> Settings:
    """Rounds that only end when the test moves the clock; no lobby wait."""
    return settings.model_copy(
        update={"room_lobby_s": 0.0, "room_round_s": 60.0, "room_reveal_s": 30.0, "room_reveal_min_s": 0.0}
    )


@pytest.fixture
def campaign(hub_settings: Settings, db: Database) -> list[int]:
    return seed_campaign(db, hub_settings.default_campaign)


class LiveServer:
    def __init__(self, settings: Settings, clock: Clock, **uvicorn_options: Any) -> None:
        self.port = free_port()
        self.clock = clock
        config = uvicorn.Config(
            create_app(settings, clock=clock),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            **uvicorn_options,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_server(hub_settings: Settings, campaign: list[int]) -> Iterator[LiveServer]:
    server = LiveServer(hub_settings, Clock()).start()
    yield server
    server.stop()


def start_web_process(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "--factory", "server.app:app_from_environment"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(args, cwd=ROOT, env=settings_env(settings))
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, f"ws://127.0.0.1:{port}/ws"
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("web process did not start")
        time.sleep(0.1)


def ws_subprotocols(token: str | None) -> list[Subprotocol]:
    """What the browser client offers: the protocol, and the session token (never in the URL)."""
    offered = [Subprotocol("nq.v1")]
    return [*offered, Subprotocol(f"nq.token.{token}")] if token else offered


class Client:
    """A real websocket client that remembers every event and answers the server's pings."""

    def __init__(self, ws: ClientConnection, fmt: str) -> None:
        self.ws, self.fmt = ws, fmt
        self.events: list[dict[str, Any]] = []
        self._used: set[int] = set()
        self._skip = 0  # members events before this index are not looked at (skip_received)

    @classmethod
    async def connect(cls, url: str, fmt: str = "json", token: str | None = None, **params: Any) -> Client:
        query = "&".join(f"{k}={v}" for k, v in {"format": fmt, **params}.items())
        # No incoming queue limit: a test that does not read a client (a bystander) must not
        # push back on the server, or closing that client waits out the close timeout.
        ws = await connect(
            f"{url}?{query}", max_size=2**22, max_queue=None, subprotocols=ws_subprotocols(token)
        )
        return cls(ws, fmt)

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        if isinstance(message, dict):
            message = msgpack.packb(message) if self.fmt == "msgpack" else orjson.dumps(message).decode()
        await self.ws.send(message)

    async def _recv(self, timeout: float) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        event = msgpack.unpackb(frame) if isinstance(frame, bytes) else orjson.loads(frame)
        if event.get("type") == "ping":
            await self.send({"type": "pong", "t": event.get("t")})
        self.events.append(event)
        return event

    def skip_received(self) -> None:
        """Later ``expect`` calls look only at events received from now on."""
        self._used.update(range(len(self.events)))
        self._skip = len(self.events)

    async def expect_joined(
        self, player_id: int, name: str | None = None, timeout: float = 15.0
    ) -> dict[str, Any]:
        """A room's ``members`` event naming ``player_id`` as in the room (as ``name``): joins
        and leaves are announced together (issue 19), so one event may answer several calls."""

        def named(event: dict[str, Any]) -> bool:
            return any(p["id"] == player_id and name in (None, p["name"]) for p in event["joined"])

        return await self._members_event(named, timeout, f"joined {player_id} {name}")

    async def expect_left(self, player_id: int, timeout: float = 15.0) -> dict[str, Any]:
        """A room's ``members`` event naming ``player_id`` as gone."""
        return await self._members_event(
            lambda event: player_id in event["left"], timeout, f"left {player_id}"
        )

    async def _members_event(
        self, where: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        """The first ``members`` event received from ``skip_received`` on that ``where`` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if i >= self._skip and event.get("type") == "members" and where(event):
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no members event {what} in {[e.get('type') for e in self.events]}")
            with contextlib.suppress(TimeoutError):
                await self._recv(left)

    async def expect(
        self,
        kind: str,
        timeout: float = 15.0,  # generous: only a failing test waits it out, a loaded CI box needs it
        where: Callable[[dict[str, Any]], bool] | None = None,
        **match: Any,
    ) -> dict[str, Any]:
        """The next not-yet-expected event of this type (field values, predicate), waiting for it."""

        def accept(event: dict[str, Any]) -> bool:
            if event.get("type") != kind or (where is not None and not where(event)):
                return False
            return all(event.get(k) == v for k, v in match.items())

        return await self._next(accept, timeout, f"{kind} {match}")

    async def expect_one_of(self, kinds: tuple[str, ...], timeout: float = 15.0) -> dict[str, Any]:
        """The next not-yet-expected event of any of these types."""
        return await self._next(lambda event: event.get("type") in kinds, timeout, f"one of {kinds}")

    async def _next(
        self, accept: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if i not in self._used and accept(event):
                    self._used.add(i)
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} in {[e.get('type') for e in self.events]}")
            try:
                await self._recv(left)
            except TimeoutError:
                continue

    async def refusal(self) -> tuple[str, int]:
        """(error code, close code) of a connection the server refuses: its error, then its close."""
        error = await self.expect("error")
        try:
            while True:
                await self._recv(5)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return error["code"], closed.rcvd.code

    async def join_round(self, room: str) -> dict[str, Any]:
        """Join and wait for the round: its ``puzzle`` event, or the snapshot when the round had
        already started by the time the snapshot was taken (then the puzzle event is in it)."""
        await self.send({"type": "join", "room": room})
        snapshot = await self.expect("room")
        if snapshot["phase"] == "round":
            return snapshot
        return await self.expect("puzzle")

    async def drain(self, quiet: float = 0.3) -> None:
        """Read whatever arrives until the line is quiet for ``quiet`` seconds."""
        while True:
            try:
                await self._recv(quiet)
            except TimeoutError:
                return

    async def close(self) -> None:
        await self.ws.close()
