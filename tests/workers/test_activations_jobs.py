"""Advanced-mode jobs on a real RQ worker, Redis and database: concurrent requests share a
batch, and every request is answered exactly once."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus

from config import keys
from config.settings import Settings
from engine.activations import text_activations
from engine.models import load_model
from store.db import Database
from store.models import Campaign
from workers import context
from workers.activations import test_text_job
from workers.advanced_requests import enqueue_test_text
from workers.queues import model_queue

CAMPAIGN = "adv"
TEXTS = [
    "The cat sat on the mat.",
    "Rain fell on the old town all night, and nobody went out.",
    "Numbers like 12, 345 and 6789 appear in text.",
    "She said hello.",
]


def _seed(db: Database, model: str = "minilm-l6") -> None:
    with db.session() as s:
        s.add(Campaign(name=CAMPAIGN, model=model, layer=3, status="ready", neuron_end=8))
        s.commit()


def _run(settings: Settings, r: redis.Redis, requests: list[tuple[int, str, int, str]]) -> tuple[list, dict]:
    """Enqueue (neuron, text, player, request_id) requests as the web process does, run a real
    worker until the queue is empty; the jobs that ran (the others were deleted unrun, their
    requests answered by another job's batch) and what each player received."""
    context.use_settings(settings)
    pubsub = r.pubsub()
    players = sorted({player for _, _, player, _ in requests})
    player_of = {keys.player_channel(p).encode(): p for p in players}
    pubsub.subscribe(*player_of)
    for _ in players:
        pubsub.get_message(timeout=1)  # the subscribe confirmations
    jobs = [
        enqueue_test_text(r, settings, CAMPAIGN, neuron, text, player, "room-1", rid)
        for neuron, text, player, rid in requests
    ]
    SimpleWorker([model_queue(r, settings)], connection=r).work(burst=True)
    received: dict[int, list[dict]] = {p: [] for p in players}
    while (msg := pubsub.get_message(timeout=0.2)) is not None:
        if msg["type"] == "message":
            received[player_of[msg["channel"]]].append(orjson.loads(msg["data"]))
    pubsub.close()
    assert model_queue(r, settings).count == 0
    ran = [job for job in jobs if Job.exists(job.id, connection=r)]
    for job in ran:
        job.refresh()
    return ran, received


def test_concurrent_requests_share_one_forward_pass(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    _seed(db)
    too_long = "x" * (settings.max_text_chars + 1)
    requests = [(n, TEXTS[n % 4], 100 + n, "q1") for n in range(6)]  # players reuse a request id
    requests += [(9, TEXTS[0], 200, "bad-neuron"), (2, too_long, 201, "bad-text"), (7, TEXTS[3], 202, "ok")]
    jobs, received = _run(settings, redis_client, requests)

    # The first job answered all nine as one batch and deleted the other eight jobs unrun.
    (job,) = jobs
    assert job.get_status() == JobStatus.FINISHED
    assert redis_client.llen(keys.test_text_pending(CAMPAIGN)) == 0
    assert all(len(events) == 1 for events in received.values())  # exactly once each
    model = load_model("minilm-l6", device=settings.device, data_dir=settings.data_path)
    for neuron, text, player, rid in [r for r in requests if r[3] in ("q1", "ok")]:
        (event,) = received[player]
        assert (event["type"], event["request_id"], event["neuron"]) == ("activations", rid, neuron)
        alone = text_activations(model, 3, neuron, text)
        assert event["tokens"] == alone["tokens"]
        assert event["activations"] == pytest.approx(alone["activations"], abs=1e-4)
    assert job.return_value() == received[100][0]
    assert received[200][0]["code"] == "bad_neuron" and "(0-7)" in received[200][0]["message"]
    assert received[201][0]["code"] == "bad_text" and "characters" in received[201][0]["message"]


@pytest.mark.parametrize(("batch_max", "batches"), [(1, 7), (3, 3)])
def test_batches_are_at_most_batch_max(
    settings: Settings, db: Database, redis_client: redis.Redis, batch_max: int, batches: int
) -> None:
    _seed(db)
    capped = settings.model_copy(update={"test_text_batch_max": batch_max})
    requests = [(n, TEXTS[n % 4], 300 + n, f"r{n}") for n in range(7)]
    jobs, received = _run(capped, redis_client, requests)
    assert len(jobs) == batches
    assert all(job.return_value()["type"] == "activations" for job in jobs)
    for _, _, player, rid in requests:
        assert [(e["type"], e["request_id"]) for e in received[player]] == [("activations", rid)]


def test_a_failing_batch_still_answers_every_request(
    settings: Settings, db: Database, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """A model directory without weights: loading fails with an OSError (not a bad input)."""
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    _seed(db, model=str(broken))
    jobs, received = _run(settings, redis_client, [(1, TEXTS[0], 400, "a"), (2, TEXTS[1], 401, "b")])
    assert jobs[0].get_status() == JobStatus.FAILED
    for player, rid in ((400, "a"), (401, "b")):
        (event,) = received[player]
        assert (event["type"], event["code"], event["request_id"]) == ("error", "internal", rid)


def test_a_job_whose_request_a_batch_took_ends_at_once(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    _seed(db)
    context.use_settings(settings)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(keys.player_channel(501))
    pubsub.get_message(timeout=1)
    enqueue_test_text(redis_client, settings, CAMPAIGN, 1, TEXTS[0], 500, "room-1", "a")
    second = enqueue_test_text(redis_client, settings, CAMPAIGN, 2, TEXTS[1], 501, "room-1", "b")
    SimpleWorker([model_queue(redis_client, settings)], connection=redis_client).work(burst=True)
    assert not Job.exists(second.id, connection=redis_client)  # taken into the first job's batch
    # A worker that had already dequeued the second job would now run it: it answers nothing.
    assert test_text_job(*second.args, **second.kwargs) == {"answered_by": "another job"}
    sent = []
    while (msg := pubsub.get_message(timeout=0.2)) is not None:
        if msg["type"] == "message":
            sent.append(orjson.loads(msg["data"]))
    pubsub.close()
    assert [(e["type"], e["request_id"]) for e in sent] == [("activations", "b")]
