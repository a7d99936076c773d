"""Submit -> score as players feel it: 1, 10 and 50 concurrent submitters, background idle and busy.

    flock /tmp/nq-heavy.lock .venv/bin/pytest -q -s tests/bench/bench_score_latency.py -o addopts=""
    BENCH_QUICK=1 ...   # the same with one round of 1 and of 10 submitters (checks the bench)

Real parts only: a small real default campaign (minilm-l6 layer 3, NEURONS neurons, mined from
the shipped corpus into this test's scratch data dir, machine explanations written and scored
by the seeding job), a real web process, the interactive worker (`worker --queues model,warm`)
and the background worker (`worker --queues default`) as `neuronquest up` runs them, real
websocket clients. Players sit in rooms of up to five (1 submitter: one room; 10: two; 50: ten),
each room on its own puzzle; once the rounds started and the interactive worker prepared
their neurons (the round's warm-up, which players' writing time covers: its duration is
printed), every submitter sends its explanation at the same moment. Latency: from sending
``submit`` to receiving that explanation's ``score`` event. "Busy": the background worker is
mining another campaign meanwhile. Baseline in the same run: the bare simulator cost of the
same explanations on the same records (the embedding simulator in this process, caches warm).

Fails on a lost submission (no score within LOST_AFTER_S), a ``score_error``, or an ERROR /
Traceback in any process's log; then checks the goal (p50 <= 2 s, p95 <= 5 s in every case).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlmodel import col, select

from config.settings import Settings
from store.db import Database
from store.models import Campaign, Explanation, Neuron
from tests.server.conftest import Client
from tests.support.roles import Role, start_web, start_worker
from workers import context
from workers.explaining import seed_machine_explanations_job
from workers.mining import build_campaign, build_campaign_job
from workers.scoring import get_simulator, load_records

NEURONS = 12
MINE_TOKENS = 20_000
ROOM_SIZE = 5
LOST_AFTER_S = 120.0
CASES = ((1, 8), (10, 3), (50, 2))  # (submitters, rounds of them)
if os.environ.get("BENCH_QUICK"):  # a smoke run of the bench itself: one small round per case
    CASES = ((1, 1), (10, 1))
TOPICS = ["numbers", "names of months", "the word the", "punctuation", "verbs of motion", "places",
          "plural nouns", "family words", "time words", "adjectives of size"]  # fmt: skip
GOAL_P50_S, GOAL_P95_S = 2.0, 5.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _mine_default(settings: Settings, db: Database) -> list[int]:
    started = time.perf_counter()
    build_campaign(settings, db, name=settings.default_campaign, model=settings.default_model,
                   layer=settings.default_layer, neuron_start=0, neuron_end=NEURONS,
                   max_tokens=MINE_TOKENS)  # fmt: skip
    with db.session() as s:
        campaign = s.exec(select(Campaign).where(Campaign.name == settings.default_campaign)).one()
        ids = [int(i) for i in s.exec(select(Neuron.id).where(Neuron.campaign_id == campaign.id)).all()]
    seeded = seed_machine_explanations_job(neuron_ids=ids, k=settings.seed_machine_explanations)
    print(f"\nmined {len(ids)} neurons, seeded {seeded} in {time.perf_counter() - started:.1f} s")
    return ids


async def _round_of(url: str, submitters: int, tag: str) -> tuple[list[float], list[str], float]:
    """Start the rooms, wait for the warm-ups, submit all at once; (latencies, problems, warm-up s)."""
    clients: list[tuple[Client, int, str]] = []
    for n in range(submitters):
        client = await Client.connect(url)
        pid = (await client.expect("welcome", timeout=30))["player"]["id"]
        room = f"{tag}-{n // ROOM_SIZE}"
        clients.append((client, pid, room))
    started = time.perf_counter()
    await asyncio.gather(*(c.join_round(room) for c, _, room in clients))
    warm_s = await _wait_warm(started)
    problems: list[str] = []

    async def one(n: int, client: Client, pid: int) -> float | None:
        sent = time.perf_counter()
        await client.send({"type": "submit", "text": f"{TOPICS[n % len(TOPICS)]} ({tag} {n})"})
        mine = await client.expect(
            "explanation", timeout=LOST_AFTER_S, where=lambda e: e["explanation"]["player_id"] == pid
        )
        _ACKS.append(time.perf_counter() - sent)  # submit -> its explanation event (the web's part)
        eid = mine["explanation"]["id"]
        try:
            event = await client.expect(
                "score", timeout=LOST_AFTER_S, where=lambda e: e.get("explanation_id") == eid
            )
        except AssertionError:
            problems.append(f"lost: explanation {eid} got no score in {LOST_AFTER_S:.0f} s")
            return None
        errors = [e for e in client.events if e.get("type") in ("score_error", "error")]
        problems.extend(f"{e['type']}: {e}" for e in errors)
        assert event["score"] is not None
        return time.perf_counter() - sent

    results = await asyncio.gather(*(one(n, c, pid) for n, (c, pid, _) in enumerate(clients)))
    for client, _, _ in clients:
        await client.close()
    return [r for r in results if r is not None], problems, warm_s


_RQ: dict[str, redis.Redis] = {}
_ACKS: list[float] = []


async def _wait_warm(since: float, limit: float = 300.0) -> float:
    """Until the interactive worker has no warm-up queued or running; seconds since ``since``."""
    r = _RQ["r"]
    queue, registry = Queue("warm", connection=r), StartedJobRegistry("warm", connection=r)
    deadline = time.monotonic() + limit
    while (queue.count or registry.count) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return time.perf_counter() - since


def _bare_costs(settings: Settings, db: Database) -> list[float]:
    """The simulator alone on the explanations players wrote, on their neurons' records, warm."""
    sim = get_simulator(settings)
    with db.session() as s:
        rows = s.exec(select(Explanation).where(col(Explanation.player_id).is_not(None))).all()
        work = [(e.text, load_records(s, e.neuron_id)) for e in rows]
    costs = []
    for n, (text, records) in enumerate(work):
        if n < 20:  # one cold pass per neuron first, like the warm-up did for the worker
            sim.predict_batch(["warm up"], records)
        started = time.perf_counter()
        sim.predict_batch([text], records)
        costs.append(time.perf_counter() - started)
    return costs


def _log_problems(roles: list[Role]) -> list[str]:
    found = []
    for role in roles:
        text = role.log.read_text(errors="replace") if role.log.exists() else ""
        found += [
            f"{role.name}: {line}" for line in text.splitlines() if " ERROR " in line or "Traceback" in line
        ]
    return found


def _busy(r: redis.Redis, settings: Settings) -> None:
    """Give the background worker a long mining job and wait until it runs."""
    queue = Queue(settings.queue_default, connection=r)
    queue.enqueue(build_campaign_job, "busy", settings.default_model, settings.default_layer, 0, 64, None,
                  2_000_000, job_timeout=3600)  # fmt: skip
    registry = StartedJobRegistry(settings.queue_default, connection=r)
    deadline = time.monotonic() + 120
    while not registry.count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert registry.count, "the background worker never started mining"


@pytest.mark.timeout(3600)
def test_submit_to_score_latency(
    settings: Settings, db: Database, redis_client: redis.Redis, tmp_path: Path
) -> None:
    update = {"room_lobby_s": 0.0, "room_round_s": 900.0, "guest_sessions_per_ip_per_min": 0}
    cfg = settings.model_copy(update={**update, "simulator": "embedding"})
    context.use_settings(cfg)
    _mine_default(cfg, db)
    _RQ["r"] = redis_client
    logs = tmp_path / "logs"
    roles = [start_web(cfg, logs), start_worker(cfg, logs, "worker", "model,warm"),
             start_worker(cfg, logs, "background", "default")]  # fmt: skip
    figures: dict[tuple[str, int], list[float]] = {}
    problems: list[str] = []
    warm: list[float] = []
    still_busy = False
    try:
        for mode in ("idle", "busy"):
            if mode == "busy":
                _busy(redis_client, cfg)
            for submitters, rounds in CASES:
                for k in range(rounds):
                    tag = f"{mode}{submitters}r{k}"
                    lat, bad, warm_s = asyncio.run(_round_of(roles[0].ws_url, submitters, tag))
                    figures.setdefault((mode, submitters), []).extend(lat)
                    problems += bad
                    warm.append(warm_s)
        still_busy = bool(StartedJobRegistry(cfg.queue_default, connection=redis_client).count)
    finally:
        load = os.getloadavg()
        for role in roles:
            role.stop()
    bare = _bare_costs(cfg, db)
    problems += _log_problems(roles)
    bare_p50 = statistics.median(bare)
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; cores: {os.cpu_count()}")
    print(f"rounds' start + warm-up until submit: p50 {statistics.median(warm):.2f} s, max {max(warm):.2f} s")
    print(f"bare simulator, one explanation on its 40 records (warm): p50 {bare_p50 * 1000:.0f} ms, "
          f"p95 {_pct(bare, 0.95) * 1000:.0f} ms over {len(bare)}")  # fmt: skip
    ack50, ack95 = statistics.median(_ACKS), _pct(_ACKS, 0.95)
    print(f"submit -> own explanation event: p50 {ack50:.3f} s, p95 {ack95:.3f} s")
    print("| background | submitters | samples | p50 s | p95 s | max s | p50 / bare p50 |")
    print("|---|---|---|---|---|---|---|")
    missed = []
    for (mode, submitters), lat in figures.items():
        p50, p95 = statistics.median(lat), _pct(lat, 0.95)
        row = [
            mode,
            submitters,
            len(lat),
            f"{p50:.2f}",
            f"{p95:.2f}",
            f"{max(lat):.2f}",
            f"{p50 / bare_p50:.1f}",
        ]
        print("| " + " | ".join(str(v) for v in row) + " |")
        if p50 > GOAL_P50_S or p95 > GOAL_P95_S:
            missed.append(f"{mode}/{submitters}: p50 {p50:.2f} s, p95 {p95:.2f} s")
    print(f"background still mining when the busy runs ended: {still_busy}")
    assert still_busy, "the background worker went idle during the busy runs: they were not busy"
    assert not problems, "\n".join(problems[:20])
    expected = sum(n * rounds for n, rounds in CASES)
    assert all(len(figures[(m, n)]) == n * r for m in ("idle", "busy") for n, r in CASES), (
        f"lost submissions: expected {expected} per mode"
    )
    assert not missed, "goal missed: " + "; ".join(missed)
