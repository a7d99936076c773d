"""The vertical slice through real parts (issue 2, item 8).

Real `neuronquest web` and `neuronquest worker` processes, a campaign mined by the real
CLI from the shipped corpus with the real MiniLM model, and two real websocket clients:
welcome -> join -> puzzle -> submit -> explanation -> a worker's score reaches both.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from config.settings import Settings
from server.cli.embedded_redis import free_port
from tests.support.processes import REPO, nq_env, start_role, stop, wait_http

CAMPAIGN = "e2e-minilm"


class Player:
    """A websocket client that always reads: it answers heartbeats while the test waits
    on someone else, and keeps the events for the test to take in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            event = orjson.loads(frame)
            if event["type"] == "ping":
                await self.send({"type": "pong", "t": event.get("t")})
            else:
                await self.events.put(event)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def next(self, wanted: str, timeout: float = 180.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event["type"] == wanted:
                    return event
                if event["type"] == "error":
                    raise AssertionError(f"server error while waiting for {wanted}: {event}")


@pytest.mark.slow
@pytest.mark.long
def test_slice_welcome_join_puzzle_submit_score(settings: Settings, tmp_path: Path) -> None:
    env = nq_env(
        data_dir=settings.data_path,
        database_url=settings.effective_database_url,
        redis_url=settings.redis_url,
        secret_key=settings.effective_secret_key(),
        default_campaign=CAMPAIGN,
        simulator="embedding",
    )
    build = subprocess.run(
        [sys.executable, "-m", "server", "campaign", "build", "--model", "minilm-l6", "--layer", "3",
         "--neurons", "0-5", "--max-tokens", "2048", "--name", CAMPAIGN, "--quiet"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr

    port = free_port()
    web = start_role("web", "--port", str(port), env=env, log=tmp_path / "web.log")
    worker = start_role("worker", env=env, log=tmp_path / "worker.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=web)
        asyncio.run(_play(port))
    finally:
        stop(web)
        stop(worker)
        for name in ("web.log", "worker.log"):
            print(f"--- {name}\n" + (tmp_path / name).read_text()[-2000:])


async def _play(port: int) -> None:
    url = f"ws://127.0.0.1:{port}/ws"
    async with connect(url) as ws_a, connect(url) as ws_b:
        alice, bob = Player(ws_a), Player(ws_b)
        welcome = await alice.next("welcome")
        assert welcome["token"] and welcome["player"]["id"]
        await bob.next("welcome")

        for player in (alice, bob):
            await player.send({"type": "join", "room": "slice"})
        puzzle = await alice.next("puzzle")
        assert puzzle["neuron"]["campaign"] == CAMPAIGN
        clue = puzzle["clues"][0]
        assert len(clue["tokens"]) == len(clue["activations"]) > 0
        await bob.next("puzzle")

        text = "fires on the first word of a sentence"
        await alice.send({"type": "submit", "text": text})
        shown = [await p.next("explanation") for p in (alice, bob)]
        assert all(e["explanation"]["text"] == text for e in shown)
        explanation_id = shown[0]["explanation"]["id"]

        scores = [await p.next("score") for p in (alice, bob)]
        for score in scores:
            assert score["explanation_id"] == explanation_id
            assert -1.0 <= score["score"] <= 1.0
            assert score["simulator"] == "embedding" and score["version"]
        assert scores[0]["v"] == scores[1]["v"], "both clients see the same room event"
        for player in (alice, bob):
            player.reader.cancel()
