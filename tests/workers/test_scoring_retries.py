"""A scoring job retried after its worker died (the quick half of tests/faults/test_worker_kill.py):
it answers what its dead attempt claimed, takes over the guard left behind, and a room hears
of a score once however often the job runs. Real Redis, database, RQ jobs and simulator."""

from __future__ import annotations

import redis
from rq import SimpleWorker
from rq.job import JobStatus

from config import keys
from config.settings import Settings
from store.db import Database
from tests.workers.test_scoring_jobs import _events, _scores, _setup
from workers import context
from workers import scoring_lanes as lanes
from workers.queues import model_queue
from workers.scoring import enqueue_scoring, get_simulator, score_requests
from workers.scoring_claims import claim


def _guard(explanation_id: int) -> str:
    sim = get_simulator(context.get_context().settings)
    return keys.scoring_guard(explanation_id, sim.name, sim.version)


def test_a_retry_answers_what_its_dead_attempt_claimed_and_takes_its_guard(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    _, (good, other, _) = _setup(settings, db)
    cfg = context.get_context().settings
    job = enqueue_scoring(redis_client, cfg, good, "room-a")
    batched = enqueue_scoring(redis_client, cfg, other, "room-b")
    # What a first attempt did before kill -9: took a batch from the lanes, claimed its
    # request and the batched one, noted them in the job's meta, took its explanation's guard.
    lanes.take(redis_client, 16)
    claimed = [claim(redis_client, job.args[2]), claim(redis_client, batched.args[2])]
    job.meta["claimed"] = claimed
    job.save_meta()
    redis_client.set(_guard(good), f"job:{job.id}", ex=60)

    SimpleWorker([model_queue(redis_client, cfg)], connection=redis_client).work(burst=True)

    assert job.latest_result().return_value == {"answered": 2}  # type: ignore[union-attr]
    assert batched.latest_result().return_value == {"answered_by": "another job"}  # type: ignore[union-attr]
    for room in ("room-a", "room-b"):
        assert [e["type"] for e in _events(redis_client, room)].count("score") == 1
    assert sorted(s.explanation_id for s in _scores(db)) == sorted([good, other])
    assert not redis_client.exists(_guard(good)), "the taken-over guard is released"


def test_a_guard_of_a_job_that_no_longer_runs_is_taken_over(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    _, (good, _, _) = _setup(settings, db)
    cfg = context.get_context().settings
    dead = enqueue_scoring(redis_client, cfg, good, None)  # queued, not running: its holder died
    assert dead.get_status() == JobStatus.QUEUED
    redis_client.set(_guard(good), f"job:{dead.id}", ex=60)
    score_requests(context.get_context(), [{"request_id": None, "explanation_id": good, "room_id": "room-a"}])
    assert [e["type"] for e in _events(redis_client, "room-a")].count("score") == 1
    assert len(_scores(db)) == 1


def test_the_room_hears_of_a_score_once_however_often_it_is_answered(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    _, (good, _, _) = _setup(settings, db)
    request = {"request_id": None, "explanation_id": good, "room_id": "room-a"}
    for _ in range(3):  # e.g. a retry after the score was stored and told, before the job ended
        score_requests(context.get_context(), [request])
    assert [e["type"] for e in _events(redis_client, "room-a")].count("score") == 1
    score_requests(context.get_context(), [{**request, "room_id": "room-b"}])  # another room: told
    assert [e["type"] for e in _events(redis_client, "room-b")] == ["score"]
    assert len(_scores(db)) == 1
