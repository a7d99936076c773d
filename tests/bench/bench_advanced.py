"""Advanced-mode round trip (docs/BENCHMARKS.md, issue 10):
`flock /tmp/nq-bench.lock .venv/bin/pytest -q -s tests/bench/bench_advanced.py -o addopts=""`.

A real web process (uvicorn) and one real RQ model worker (`neuronquest worker --queues
model`, as `up` runs it) on the test Redis and database, the default campaign's model
(MiniLM-L6, layer 3; the campaign is seeded like tests/server/conftest.py does). 50 websocket
clients in 5 rooms send `test_text` with English texts of 40-60 tokens from the shipped corpus;
the figure is send -> `activations` receipt, at idle (30 requests one after another) and under
50 concurrent requests (5 waves of 50). The worker runs once with batching off
(test_text_batch_max 1), once on (16, the default) and once with room for a whole wave (50);
its finished RQ jobs tell how many forward passes it ran. Baseline in the same run, in this
process, with the worker idle: the bare forward pass of the same texts (engine text_activations
of the request's text right after each idle round trip; all 50 texts as one batch, in batches
of 16, right after each wave; and one by one), so that both see the same load on the machine.

The clients share the 2 cores with the servers, so the round trips are upper bounds.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from rq.job import Job

from config.settings import Settings
from engine.activations import batch_text_activations, text_activations
from engine.corpus import read_documents
from engine.models import NeuronModel, load_model
from store.db import Database
from tests.server.conftest import Client, seed_campaign, start_web_process
from tests.support.processes import settings_env, start_role, stop
from workers.queues import model_queue

CLIENTS = 50
ROOMS = 5
IDLE_REQUESTS = 30
WAVES = 5
BATCH_MAXES = (1, 16, 50)  # Settings.test_text_batch_max: off, the default, a whole wave
LAYER = 3  # the default campaign's layer (Settings.default_layer)


def corpus_texts(model: NeuronModel, count: int, lo: int = 40, hi: int = 60) -> list[str]:
    """The first ``count`` documents of the shipped corpus of ``lo``-``hi`` tokens, on one line."""
    texts = []
    for doc in read_documents(None):
        text = " ".join(doc.split())
        if lo <= len(model.encode(text)) <= hi:
            texts.append(text)
            if len(texts) == count:
                return texts
    raise RuntimeError(f"the corpus has fewer than {count} documents of {lo}-{hi} tokens")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


class Bare:
    """The bare forward pass of the same texts, in this process: the baseline. It is measured
    between the round trips (the worker then idle), so both see the same load on the machine.

    It runs on the main thread, as the worker's forward passes do (RQ's SimpleWorker): on the
    loaded 2-core VM torch ran up to 3x slower there than on a side thread (docs/BENCHMARKS.md).
    Between passes it yields to the event loop, which keeps the websockets alive."""

    def __init__(self, model: NeuronModel, texts: list[str], neurons: list[int]) -> None:
        self.model, self.pairs = model, list(zip(neurons, texts, strict=True))

    async def warm_up(self) -> None:
        """Untimed, as the worker is warm: a new input shape pays set-up costs the first time."""
        for i in range(len(self.pairs)):
            await self.one(i)
        await self.all(len(self.pairs))

    async def one(self, i: int) -> float:
        neuron, text = self.pairs[i]
        await asyncio.sleep(0)
        return timed_ms(lambda: text_activations(self.model, LAYER, neuron, text))

    async def all(self, size: int) -> float:
        """Every text, in batches of ``size`` one after another (1: one by one)."""
        total = 0.0
        for start in range(0, len(self.pairs), size):
            chunk = self.pairs[start : start + size]
            await asyncio.sleep(0)
            total += timed_ms(lambda c=chunk: batch_text_activations(self.model, LAYER, c))
        return total


class Players:
    """The websocket clients, each in a room with a puzzle, and their test_text round trips."""

    def __init__(self, clients: list[Client], neurons: list[int], texts: list[str]) -> None:
        self.clients, self.neurons, self.texts = clients, neurons, texts
        self.sent = 0

    @classmethod
    async def join(cls, url: str, texts: list[str]) -> Players:
        clients = [await Client.connect(url) for _ in range(CLIENTS)]
        neurons = []
        for i, client in enumerate(clients):
            await client.expect("welcome")
            event = await client.join_round(f"adv{i % ROOMS}")
            neurons.append(int(event["neuron"]["index"]))
        return cls(clients, neurons, texts)

    async def ask(self, i: int) -> float:
        """One request from client ``i`` with text ``i``: ms from send to its activations."""
        self.sent += 1
        rid = f"b{self.sent}"
        client = self.clients[i]
        start = time.perf_counter()
        await client.send({"type": "test_text", "text": self.texts[i], "request_id": rid})
        answer = await client.expect("activations", timeout=120, request_id=rid)
        elapsed = (time.perf_counter() - start) * 1000
        assert answer["neuron"] == self.neurons[i] and len(answer["tokens"]) > 40
        return elapsed

    async def wave(self) -> tuple[list[float], float]:
        """All clients at once: each request's ms, and the wave's wall time (first send to last answer)."""
        start = time.perf_counter()
        latencies = await asyncio.gather(*(self.ask(i) for i in range(CLIENTS)))
        wall = (time.perf_counter() - start) * 1000
        for client in self.clients:
            await client.drain(0.01)  # room chatter, so that expect() stays cheap
        return list(latencies), wall

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


@pytest.fixture
def hub(settings: Settings, db: Database) -> Iterator[Settings]:
    # All clients share 127.0.0.1: no guest-session limit; rounds outlast the bench.
    update = {"room_lobby_s": 0.0, "room_round_s": 3600.0, "heartbeat_s": 60.0}
    hub = settings.model_copy(
        update={**update, "guest_sessions_per_ip_per_min": 0, "ws_per_address": 1_000_000}
    )
    seed_campaign(db, hub.default_campaign, neurons=8)
    yield hub


def forward_passes(hub: Settings, seen: set[str]) -> tuple[int, int]:
    """(jobs that ran a forward pass, jobs that ran) among the finished jobs not in ``seen`` (which
    this adds them to). The others found their request in another job's batch; the jobs that a
    batch deleted before any worker took them never ran."""
    r = redis.Redis.from_url(hub.redis_url)
    ids = [i for i in model_queue(r, hub).finished_job_registry.get_job_ids() if i not in seen]
    seen.update(ids)
    jobs = [job for job in Job.fetch_many(ids, connection=r) if job is not None]
    r.close()
    idle = sum(1 for job in jobs if job.return_value() == {"answered_by": "another job"})
    return len(jobs) - idle, len(jobs)


def start_worker(hub: Settings, batch_max: int, log: Path) -> subprocess.Popen[bytes]:
    env = settings_env(hub.model_copy(update={"test_text_batch_max": batch_max, "log_level": "warning"}))
    return start_role("worker", "--queues", hub.queue_model, env=env, log=log)


@dataclass
class Samples:
    """One worker setting's round trips (ms), each beside the bare forward pass timed right after."""

    idle: list[float] = field(default_factory=list)
    bare_one: list[float] = field(default_factory=list)
    concurrent: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    bare_as_one: list[float] = field(default_factory=list)
    bare_by_16: list[float] = field(default_factory=list)
    bare_one_by_one: float = 0.0


async def measure(players: Players, bare: Bare) -> Samples:
    got = Samples()
    await players.ask(0)  # the worker loads the model on its first request
    for i in range(IDLE_REQUESTS):
        got.idle.append(await players.ask(i % CLIENTS))
        got.bare_one.append(await bare.one(i % CLIENTS))
    for _ in range(WAVES):
        latencies, wall = await players.wave()
        got.concurrent += latencies
        got.walls.append(wall)
        got.bare_as_one.append(await bare.all(CLIENTS))
        got.bare_by_16.append(await bare.all(16))
    got.bare_one_by_one = await bare.all(1)
    return got


def line(name: str, values: list[float], base: str, base_values: list[float]) -> str:
    p50, p99 = pct(values, 0.5), pct(values, 0.99)
    b50, b99 = pct(base_values, 0.5), pct(base_values, 0.99)
    return (f"{name:<26} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms | {base} p50 {b50:6.1f} ms  p99 "
            f"{b99:6.1f} ms | ratio {p50 / b50:5.2f} / {p99 / b99:5.2f}")  # fmt: skip


def report(batch_max: int, got: Samples, passes: int, jobs: int) -> None:
    requests = 1 + len(got.idle) + len(got.concurrent)  # with the first, which loads the model
    print(f"-- test_text_batch_max {batch_max}: {requests} requests, {passes} forward passes, "
          f"{jobs} RQ jobs ran")  # fmt: skip
    print(line(f"idle, {len(got.idle)} sequential", got.idle, "bare one text", got.bare_one))
    print(line(f"{CLIENTS} concurrent, {WAVES} waves", got.concurrent, "bare 50 as 1 batch", got.bare_as_one))
    as_one, wall = statistics.median(got.bare_as_one), statistics.median(got.walls)
    print(f"{'wave wall time':<26} median {wall:7.1f} ms | bare: 50 as one batch {as_one:.1f} ms, in "
          f"batches of 16 {statistics.median(got.bare_by_16):.1f} ms, one by one {got.bare_one_by_one:.1f} ms"
          f" | ratio {wall / as_one:.2f}")  # fmt: skip


def test_advanced_round_trip(hub: Settings, tmp_path: Path) -> None:
    model = load_model("minilm-l6", device=hub.device, data_dir=hub.data_path)
    texts = corpus_texts(model, CLIENTS)
    web, url = start_web_process(hub)
    try:
        asyncio.run(_run(hub, model, texts, url, tmp_path))
    finally:
        stop(web)


async def _run(hub: Settings, model: NeuronModel, texts: list[str], url: str, tmp_path: Path) -> None:
    players = await Players.join(url, texts)
    bare = Bare(model, texts, players.neurons)
    await bare.warm_up()
    tokens = [len(model.encode(t)) for t in texts]
    print(f"\n{len(texts)} texts of {min(tokens)}-{max(tokens)} tokens (mean {statistics.mean(tokens):.1f}), "
          f"{ROOMS} rooms; ratio = round trip / bare forward (p50 / p99)")  # fmt: skip
    seen: set[str] = set()
    try:
        for batch_max in BATCH_MAXES:
            worker = start_worker(hub, batch_max, tmp_path / f"worker-{batch_max}.log")
            try:
                got = await measure(players, bare)
            finally:
                stop(worker)
            report(batch_max, got, *forward_passes(hub, seen))
    finally:
        await players.close()
