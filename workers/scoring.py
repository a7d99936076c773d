"""RQ jobs that score explanations: batched, streamed to the room, persisted once.

``enqueue_scoring`` files a request (a Redis key per request, its id in its author's lane:
workers/scoring_lanes.py) and enqueues a job for it. Whichever job runs first takes a fair
batch — one request per lane in turn, so one player's many submissions do not queue ahead of
everyone else's — and claims each (claiming is deleting the request's key, so each request is
answered exactly once); it scores them as one batch: the simulator sees every
explanation of a neuron at once. A guard key per (explanation, simulator, version)
keeps two workers from scoring the same explanation at the same time; a Score that
already exists for the current version and records is reused, never recomputed.

A worker may die mid-job (kill -9, OOM): RQ then retries the job, within about a minute
(workers/rq_worker.py). So a job keeps the requests it claimed in its meta and answers them
again when retried, takes over a guard that its own dead attempt (or a job no longer
running) left behind, and tells each room a score through ``eventlog.append_once``: the row
exists once (unique constraint), the room hears of it once. Then it settles what the score
earns (workers/scoring_settlement.py): quest credit and a late score's beat_best, exactly once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from typing import Any

import orjson
import redis
from rq import Retry, get_current_job
from rq.job import Job
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from config import keys
from config.settings import Settings
from engine.records import ActivationRecord
from engine.scoring import Simulator, make_simulator
from engine.scoring.score import ScoreResult, record_correlation, score_predictions, select_records
from rooms.blind import is_blind_room, redact, score_for_the_room
from store import campaigns, eventlog
from store.models import Explanation, Neuron, Score
from workers import scoring_lanes as lanes
from workers.context import WorkerContext, get_context, once_per_process
from workers.queues import default_queue, model_queue
from workers.scoring_claims import claim, guard_owner, take_over, unclaim
from workers.scoring_settlement import settle_stored_score

log = logging.getLogger(__name__)

JOB_TIMEOUT_S = 600
GUARD_TTL_S = 900
REQUEST_TTL_S = 3600
# How long a room remembers that it was told a score (longer than any retry takes).
TOLD_TTL_S = 86_400
BATCH_MAX = 16
# Records scored per explanation: top and random, 1:1, at most this many of each.
RECORDS_PER_KIND = 20
# Records per simulator call while scoring; one score_progress event per chunk.
RECORDS_PER_CHUNK = 8


def _retry(settings: Settings) -> Retry:
    """Twice more after a failure or a dead worker (RQ's abandoned-job cleanup honours it), at
    the front of the queue: a retried job keeps its place (its requests went back to the front
    of their lanes too, workers/scoring_claims.py)."""
    return Retry(
        max=2, interval=[settings.scoring_retry_s, 6 * settings.scoring_retry_s], enqueue_at_front=True
    )


def get_simulator(settings: Settings) -> Simulator:
    """The configured simulator, its model loaded once per worker process."""
    key = (
        f"{settings.simulator}|{settings.simulator_model}|{settings.openai_base_url}|{settings.openai_model}"
    )
    return once_per_process(f"simulator|{key}", lambda: make_simulator(settings))


# -- enqueueing -----------------------------------------------------------------
def enqueue_scoring(
    r: redis.Redis, settings: Settings, explanation_id: int, room_id: str | None, player_id: int | None = None
) -> Job:
    """File a request in its author's lane (workers/scoring_lanes.py) and wake a scoring job.

    The job is a wake-up call, not a ticket: whichever job runs takes the next fair batch."""
    request_id = uuid.uuid4().hex
    lane = lanes.lane_of(player_id, room_id)
    body = orjson.dumps({"explanation_id": int(explanation_id), "room_id": room_id, "lane": lane})
    r.set(keys.scoring_request(request_id), body, ex=REQUEST_TTL_S)
    lanes.add(r, lane, request_id)
    return model_queue(r, settings).enqueue(
        score_explanation_job,
        int(explanation_id),
        room_id,
        request_id,
        job_timeout=JOB_TIMEOUT_S,
        retry=_retry(settings),
        result_ttl=3600,
        failure_ttl=86400,
    )


def enqueue_rescore(r: redis.Redis, settings: Settings, neuron_id: int) -> Job:
    # Background work: rescoring a campaign's machine explanations must never queue ahead of
    # a player waiting for a score (the interactive worker takes only the model queue).
    return default_queue(r, settings).enqueue(
        rescore_job, int(neuron_id), job_timeout=JOB_TIMEOUT_S, retry=_retry(settings), result_ttl=3600
    )


# -- jobs -----------------------------------------------------------------------
def score_explanation_job(
    explanation_id: int, room_id: str | None = None, request_id: str | None = None
) -> dict:
    """Score one explanation (and any other queued requests) and tell the rooms that asked."""
    ctx = get_context()
    r = ctx.redis
    job = get_current_job()
    if request_id is None:
        requests = [{"request_id": None, "explanation_id": int(explanation_id), "room_id": room_id}]
    else:
        # A retry first answers what its earlier attempt claimed: that attempt may have died
        # after claiming, and a claimed request is a deleted key that nobody else would answer.
        # Then the next fair batch: one request per lane in turn, whoever's job this is.
        requests = list(job.meta.get("claimed", [])) if job is not None else []
        for rid in lanes.take(r, BATCH_MAX):
            taken = claim(r, rid)
            if taken is not None:
                requests.append(taken)
        if not requests:
            return {"answered_by": "another job"}  # earlier jobs' batches took every request
    if job is not None and request_id is not None:
        # One entry per request: an earlier attempt may have put back (unclaimed) what it held.
        requests = list({req["request_id"]: req for req in requests}.values())
        job.meta["claimed"] = requests
        job.save_meta()
    try:
        answered = score_requests(ctx, requests)
    except Exception:
        unclaim(r, [req for req in requests if req["request_id"]], REQUEST_TTL_S)
        raise
    return {"answered": answered}


def rescore_job(neuron_id: int) -> dict:
    """Score the neuron's explanations that lack a score for the current records and simulator version.

    Older scores stay, each with its version and records version."""
    ctx = get_context()
    with ctx.db.session() as session:
        ids = session.exec(
            select(Explanation.id).where(Explanation.neuron_id == neuron_id, Explanation.status != "removed")
        ).all()
    requests = [{"request_id": None, "explanation_id": int(i), "room_id": None} for i in ids if i is not None]
    try:
        return {"answered": score_requests(ctx, requests)}
    finally:
        ctx.redis.delete(keys.rescore_pending(neuron_id))  # the sweep may queue this neuron again


# -- the work -------------------------------------------------------------------
def load_records(session: Session, neuron_id: int) -> list[ActivationRecord]:
    top, rnd = campaigns.neuron_records(session, neuron_id)
    return select_records(top, rnd, limit=RECORDS_PER_KIND)


def _existing(session: Session, explanation_id: int, sim: Simulator, records_version: int) -> Score | None:
    return session.exec(
        select(Score).where(
            Score.explanation_id == explanation_id,
            Score.simulator == sim.name,
            Score.version == sim.version,
            Score.records_version == records_version,
        )
    ).first()


def _score_event(score: Score, neuron_id: int) -> dict[str, Any]:
    return {
        "type": "score",
        "explanation_id": score.explanation_id,
        "neuron_id": neuron_id,
        "score": score.score,
        "simulator": score.simulator,
        "version": score.version,
        "records_version": score.records_version,
        "per_record": score.per_record,
        "detail": score.detail,
    }


def _tell(r: redis.Redis, rooms: list[str | None], event: dict[str, Any]) -> None:
    """An event for each room; a blind (quest) room gets it as its members may see it."""
    for room in rooms:
        if room:
            eventlog.append(r, room, redact(event) if is_blind_room(room) else event)


def _tell_score(
    r: redis.Redis,
    rooms: list[str | None],
    score: Score,
    neuron_id: int,
    author: int | None,
    players_r: redis.Redis,
) -> None:
    """The room's ``score`` event, once per room and score, however often a job is retried.
    A blind (quest) room gets the score alone; its ``author`` gets the whole event, predictions
    and all, on their own channel (on ``players_r``, where player channels are)."""
    event = _score_event(score, neuron_id)
    for room in rooms:
        if room:
            told = keys.score_told(
                room, score.explanation_id, score.simulator, score.version, score.records_version
            )
            if not is_blind_room(room):
                eventlog.append_once(r, room, event, told, TOLD_TTL_S)
            elif eventlog.append_once(r, room, score_for_the_room(event), told, TOLD_TTL_S) and author:
                eventlog.publish_to_player(players_r, author, event)


def score_requests(ctx: WorkerContext, requests: list[dict[str, Any]]) -> int:
    """Answer every request; returns how many explanations were answered."""
    sim = get_simulator(ctx.settings)
    rooms: dict[int, list[str | None]] = defaultdict(list)
    for req in requests:
        rooms[int(req["explanation_id"])].append(req["room_id"])
    by_neuron: dict[int, list[Explanation]] = defaultdict(list)
    with ctx.db.session() as session:
        for explanation_id in rooms:
            explanation = session.get(Explanation, explanation_id)
            if explanation is None or explanation.status == "removed":
                reason = "no such explanation" if explanation is None else "the explanation was removed"
                _tell(ctx.rooms_redis, rooms[explanation_id], _error_event(explanation_id, reason))
                continue
            by_neuron[explanation.neuron_id].append(explanation)
    for neuron_id, explanations in by_neuron.items():
        _score_neuron(ctx, sim, neuron_id, explanations, rooms)
    return sum(len(v) for v in by_neuron.values())


def _error_event(explanation_id: int, reason: str) -> dict[str, Any]:
    return {"type": "score_error", "explanation_id": explanation_id, "reason": reason}


def _score_neuron(
    ctx: WorkerContext,
    sim: Simulator,
    neuron_id: int,
    explanations: list[Explanation],
    rooms: dict[int, list[str | None]],
) -> None:
    r, rooms_r = ctx.redis, ctx.rooms_redis  # rooms' logs may live on a cluster (Settings)
    with ctx.db.session() as session:
        neuron = session.get(Neuron, neuron_id)
        records = load_records(session, neuron_id)
    records_version = neuron.records_version if neuron else 1
    if not records:
        for e in explanations:
            reason = "the neuron has no records to score against"
            _tell(rooms_r, rooms[e.id or 0], _error_event(e.id or 0, reason))
        return
    todo: list[Explanation] = []
    held: list[str] = []
    try:
        for explanation in explanations:
            assert explanation.id is not None
            score = _wait_for_other_scorer(ctx, sim, explanation.id, records_version, held)
            if score is not None:
                _tell_score(rooms_r, rooms[explanation.id], score, neuron_id, explanation.player_id, r)
                settle_stored_score(ctx.db, r, ctx.settings, explanation.id, rooms_r=rooms_r)
            else:
                todo.append(explanation)
        if todo:
            _simulate_and_store(ctx, sim, neuron_id, records_version, records, todo, rooms)
    finally:
        if held:
            r.delete(*held)


def _wait_for_other_scorer(
    ctx: WorkerContext, sim: Simulator, explanation_id: int, records_version: int, held: list[str]
) -> Score | None:
    """The existing Score, or None after taking the guard (then this job scores it)."""
    guard = keys.scoring_guard(explanation_id, sim.name, sim.version)
    owner = guard_owner()
    deadline = time.monotonic() + GUARD_TTL_S
    while True:
        with ctx.db.session() as session:
            existing = _existing(session, explanation_id, sim, records_version)
        if existing is not None:
            return existing
        taken = ctx.redis.set(guard, owner, nx=True, ex=GUARD_TTL_S)
        if taken or take_over(ctx.redis, guard, owner, GUARD_TTL_S):
            held.append(guard)
            return None
        if time.monotonic() > deadline:
            raise TimeoutError(f"explanation {explanation_id} has been scored elsewhere for too long")
        time.sleep(0.2)  # another worker is scoring it right now: wait for its Score


def _simulate_and_store(
    ctx: WorkerContext,
    sim: Simulator,
    neuron_id: int,
    records_version: int,
    records: list[ActivationRecord],
    todo: list[Explanation],
    rooms: dict[int, list[str | None]],
) -> None:
    r = ctx.rooms_redis  # where the rooms' logs live (a Redis Cluster when configured)
    texts = [e.text for e in todo]
    predictions: list[list[list[float]]] = [[] for _ in todo]
    for start in range(0, len(records), RECORDS_PER_CHUNK):
        # A chunk of records per simulator call: few enough that rooms see partial results
        # early, enough that each call (forward pass, room event) is worth its overhead.
        chunk = records[start : start + RECORDS_PER_CHUNK]
        batch = sim.predict_batch(texts, chunk)
        for k, explanation in enumerate(todo):
            predictions[k].extend(batch[k])
            event = {
                "type": "score_progress",
                "explanation_id": explanation.id,
                "neuron_id": neuron_id,
                "done": start + len(chunk),
                "total": len(records),
                "records": [
                    {
                        "record": start + i,
                        "kind": rec.kind,
                        "record_score": record_correlation(rec, batch[k][i]),
                    }
                    for i, rec in enumerate(chunk)
                ],
            }
            _tell(r, rooms[explanation.id or 0], event)
    for k, explanation in enumerate(todo):
        result = score_predictions(records, predictions[k], sim.name, sim.version)
        score = _store(ctx, explanation.id or 0, records_version, result)
        _tell_score(r, rooms[explanation.id or 0], score, neuron_id, explanation.player_id, ctx.redis)
        # Where the score is written, whether or not its author or room is still there.
        settle_stored_score(ctx.db, ctx.redis, ctx.settings, explanation.id or 0, rooms_r=r)


def _store(ctx: WorkerContext, explanation_id: int, records_version: int, result: ScoreResult) -> Score:
    row = Score(
        explanation_id=explanation_id,
        simulator=result.simulator,
        version=result.version,
        records_version=records_version,
        score=result.score,
        per_record=result.per_record,
        detail=result.detail,
    )
    with ctx.db.session() as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            # Stored meanwhile by a worker whose guard had expired: keep the first one.
            session.rollback()
            existing = session.exec(
                select(Score).where(
                    Score.explanation_id == explanation_id,
                    Score.simulator == result.simulator,
                    Score.version == result.version,
                    Score.records_version == records_version,
                )
            ).one()
            return existing
        session.refresh(row)
    return row
