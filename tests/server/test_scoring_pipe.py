"""The whole pipe with the real scoring job: submit -> RQ -> a real worker scores -> the room."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from rq import SimpleWorker
from sqlmodel import select

from config.settings import Settings
from store.db import Database
from store.models import PointEvent, Score
from tests.server.conftest import Client, LiveServer
from workers.context import use_settings
from workers.queues import model_queue


@pytest.mark.slow
async def test_a_real_worker_scores_and_the_reveal_awards_points(
    live_server: LiveServer, hub_settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    alice = await Client.connect(live_server.ws_url)
    alice_id = (await alice.expect("welcome"))["player"]["id"]
    await alice.join_round("pipe")
    await alice.send({"type": "submit", "text": "the word cat"})
    eid = (await alice.expect("explanation"))["explanation"]["id"]
    # The job is enqueued just after the event: wait for it (a fixed pause is a guess).
    queue = model_queue(redis_client, hub_settings)
    deadline = time.monotonic() + 10
    while not queue.count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    use_settings(hub_settings)
    # The worker runs here in the main thread (rq installs signal handlers); the server runs in
    # its own thread, so events wait in the socket until we read them.
    SimpleWorker([model_queue(redis_client, hub_settings)], connection=redis_client).work(burst=True)
    score = await alice.expect("score", timeout=30)
    assert score["explanation_id"] == eid and -1.0 <= score["score"] <= 1.0
    with db.session() as s:
        assert s.exec(select(Score).where(Score.explanation_id == eid)).one().score == score["score"]
    live_server.clock.advance(61)
    await alice.expect("round_end")
    awards = (await alice.expect("points"))["awards"]
    assert {
        "player_id": alice_id,
        "amount": 20,
        "reason": "first_explanation",
        "explanation_id": eid,
    } in awards
    with db.session() as s:
        assert {p.reason for p in s.exec(select(PointEvent)).all()} >= {"first_explanation"}
    await alice.close()
