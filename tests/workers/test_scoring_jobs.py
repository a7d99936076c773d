"""The scoring jobs on the real Redis and database: streamed, persisted once, batched, rescored."""

from __future__ import annotations

import threading
import time

import redis
from rq import SimpleWorker
from sqlmodel import select

from config import keys
from config.settings import Settings
from engine.scoring.planted import NEURONS
from store import eventlog
from store.db import Database
from store.models import Campaign, Explanation, Neuron, Score, Snippet
from workers import context
from workers.queues import model_queue
from workers.scoring import RECORDS_PER_CHUNK, enqueue_scoring, rescore_job, score_explanation_job

MONTHS = next(n for n in NEURONS if n.name == "months")


def _setup(settings: Settings, db: Database) -> tuple[int, list[int]]:
    """A neuron with the planted "months" records and three explanations; (neuron id, explanation ids)."""
    context.use_settings(settings.model_copy(update={"simulator": "embedding"}))
    with db.session() as s:
        campaign = Campaign(name="c", model="minilm-l6", layer=3, status="ready")
        s.add(campaign)
        s.commit()
        neuron = Neuron(campaign_id=campaign.id, index=7)
        s.add(neuron)
        s.commit()
        top, rnd = MONTHS.records()
        for kind, records in (("top", top), ("random", rnd)):
            for rank, rec in enumerate(records):
                s.add(
                    Snippet(
                        neuron_id=neuron.id,
                        kind=kind,
                        rank=rank,
                        tokens=rec.tokens,
                        activations=rec.activations,
                    )
                )
        texts = [MONTHS.explanation, "names of animals", "commas"]
        rows = [Explanation(neuron_id=neuron.id, text=t) for t in texts]
        s.add_all(rows)
        s.commit()
        return neuron.id, [e.id for e in rows]  # type: ignore[return-value]


def _events(r: redis.Redis, room: str) -> list[dict]:
    return eventlog.since(r, room, 0) or []


def _scores(db: Database) -> list[Score]:
    with db.session() as s:
        return list(s.exec(select(Score)).all())


def test_job_streams_progress_then_one_score_and_persists_it(settings, db, redis_client):
    _, (good, _, _) = _setup(settings, db)
    score_explanation_job(good, "room-a")
    events = _events(redis_client, "room-a")
    progress = [e for e in events if e["type"] == "score_progress"]
    final = [e for e in events if e["type"] == "score"]
    assert len(final) == 1 and events[-1] is final[0]
    # One event per chunk of records, each with that chunk's per-record results.
    total = progress[0]["total"]
    chunk = RECORDS_PER_CHUNK
    assert total > chunk and len(progress) == -(-total // chunk)
    assert [p["done"] for p in progress] == [min(total, chunk * (i + 1)) for i in range(len(progress))]
    per_record = [r for p in progress for r in p["records"]]
    assert [r["record"] for r in per_record] == list(range(total))
    assert [r["record_score"] for r in per_record] == final[0]["per_record"]
    assert final[0]["score"] > 0.8 and final[0]["simulator"] == "embedding"
    assert len(final[0]["per_record"]) == progress[0]["total"]
    assert final[0]["detail"]["detection"]["roc_auc"] == 1.0 and final[0]["detail"]["worst_misses"]
    [row] = _scores(db)
    assert (row.explanation_id, row.score, row.version) == (good, final[0]["score"], final[0]["version"])
    # The guard is released afterwards.
    assert not redis_client.keys(keys.scoring_guard(good, "*", "*"))


def test_existing_score_is_reused_not_recomputed(settings, db, redis_client):
    _, (good, _, _) = _setup(settings, db)
    score_explanation_job(good, "room-a")
    score_explanation_job(good, "room-b")
    assert len(_scores(db)) == 1
    events_b = _events(redis_client, "room-b")
    assert [e["type"] for e in events_b] == ["score"]  # no progress: nothing was simulated again


def test_concurrent_requests_are_batched_and_each_answered_once(settings, db, redis_client):
    _, ids = _setup(settings, db)
    ctx_settings = context.get_context().settings
    jobs = [enqueue_scoring(redis_client, ctx_settings, eid, f"room-{eid}") for eid in ids]
    jobs.append(
        enqueue_scoring(redis_client, ctx_settings, ids[0], "room-extra")
    )  # same explanation, 2 rooms
    queue = model_queue(redis_client, ctx_settings)
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    results = [j.latest_result().return_value for j in jobs]  # type: ignore[union-attr]
    assert results[0] == {"answered": 3} and all(r == {"answered_by": "another job"} for r in results[1:])
    for room in [*(f"room-{eid}" for eid in ids), "room-extra"]:
        assert [e["type"] for e in _events(redis_client, room)].count("score") == 1
    scores = {s.explanation_id: s.score for s in _scores(db)}
    assert len(scores) == 3 and scores[ids[0]] > max(scores[ids[1]], scores[ids[2]])
    assert redis_client.llen(keys.scoring_ring()) == 0  # every lane emptied


def test_waits_for_another_scorer_instead_of_scoring_twice(settings, db, redis_client):
    _, (good, _, _) = _setup(settings, db)
    from workers.scoring import get_simulator

    sim = get_simulator(context.get_context().settings)
    guard = keys.scoring_guard(good, sim.name, sim.version)
    redis_client.set(guard, "1", ex=60)

    def other_worker_finishes() -> None:
        time.sleep(0.5)
        with db.session() as s:
            s.add(Score(explanation_id=good, simulator=sim.name, version=sim.version, score=0.123))
            s.commit()
        redis_client.delete(guard)

    thread = threading.Thread(target=other_worker_finishes)
    thread.start()
    score_explanation_job(good, "room-a")
    thread.join()
    assert [(e["type"], e["score"]) for e in _events(redis_client, "room-a")] == [("score", 0.123)]
    assert len(_scores(db)) == 1


def test_missing_explanation_gets_an_error_event_and_nothing_is_stored(settings, db, redis_client):
    _setup(settings, db)
    score_explanation_job(999_999, "room-a")
    assert [e["type"] for e in _events(redis_client, "room-a")] == ["score_error"]
    assert _scores(db) == []


def test_rescore_after_new_records_keeps_the_old_scores(settings, db, redis_client):
    neuron_id, _ = _setup(settings, db)
    rescore_job(neuron_id)
    assert len(_scores(db)) == 3
    rescore_job(neuron_id)  # nothing new: nothing rescored
    assert len(_scores(db)) == 3
    with db.session() as s:
        neuron = s.get(Neuron, neuron_id)
        neuron.records_version = 2  # type: ignore[union-attr]
        s.add(neuron)
        s.commit()
    rescore_job(neuron_id)
    scores = _scores(db)
    assert sorted(s.records_version for s in scores) == [1, 1, 1, 2, 2, 2]
