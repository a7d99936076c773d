"""Seeding puzzles with machine explanations, scored, so players have a baseline to beat.

``seed_machine_explanations_job`` writes up to K explanations per neuron with the
configured explainer (source "machine", no player; when the explainer falls short, the
word-list baseline fills in once) and scores them at once, as one batch, in the same job:
they are the bar a player's score must beat, and a neuron is served to players only once its
bar is known (store/puzzles.py playable_neurons). While a neuron waits for its seeding job it
is in ``keys.seeding_pending`` and rooms do not serve it. It tops neurons up rather than adding more:
running it twice writes nothing new. A missing explainer model is reported in the
job's result, not retried: seeding is a nicety, never a reason for a failed build.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from rq.job import Job
from sqlmodel import col, select

from config import keys
from config.settings import Settings
from engine.scoring.explainer import Explainer, ExplainerError, TokenListExplainer, make_explainer
from store import campaigns
from store.db import Database
from store.models import Explanation, Neuron
from workers.context import get_context, once_per_process
from workers.queues import default_queue
from workers.scoring import rescore_job

log = logging.getLogger(__name__)

JOB_TIMEOUT_S = 3600
# Neurons per seeding job: short jobs, because a worker takes queued scoring (model queue)
# only between jobs, and a local 135M explainer on a CPU takes ~25 s per neuron.
NEURONS_PER_JOB = 2


def get_explainer(settings: Settings) -> Explainer:
    """The configured explainer, its model loaded once per worker process."""
    key = (
        f"{settings.explainer}|{settings.explainer_model}|{settings.openai_base_url}|{settings.openai_model}"
    )
    return once_per_process(f"explainer|{key}", lambda: make_explainer(settings))


def enqueue_seeding(
    r: redis.Redis, settings: Settings, neuron_ids: list[int], k: int | None = None
) -> list[Job]:
    """One seeding job per NEURONS_PER_JOB neurons, on the default (background) queue."""
    k = settings.seed_machine_explanations if k is None else k
    if k <= 0:
        return []
    queue = default_queue(r, settings)
    if neuron_ids:
        r.sadd(keys.seeding_pending(), *neuron_ids)  # not served until seeded and scored
    return [
        queue.enqueue(
            seed_machine_explanations_job,
            None,
            neuron_ids[start : start + NEURONS_PER_JOB],
            k,
            job_timeout=JOB_TIMEOUT_S,
            result_ttl=86400,
            failure_ttl=86400,
        )
        for start in range(0, len(neuron_ids), NEURONS_PER_JOB)
    ]


def enqueue_campaign_seeding(
    r: redis.Redis,
    settings: Settings,
    db: Database,
    campaign_name: str,
    *,
    first: int = 0,
    between: Callable[[], object] | None = None,
) -> list[Job]:
    """Seed every neuron of a freshly built campaign (nothing when seeding is turned off).

    ``first`` neurons are queued, then ``between`` runs (it may queue other background work),
    then the rest: a first start queues related neurons behind the first puzzles' seeding, not
    behind all of it (issue 17: 7.5 min after mining they still waited)."""
    if settings.seed_machine_explanations <= 0:
        if between is not None:
            between()
        return []
    with db.session() as session:
        campaign = campaigns.get_campaign(session, campaign_name)
        if campaign is None:
            return []
        rows = session.exec(
            select(Neuron.id).where(Neuron.campaign_id == campaign.id).order_by(col(Neuron.index))
        ).all()
    ids = [int(i) for i in rows if i is not None]
    jobs = enqueue_seeding(r, settings, ids[:first]) if first else []
    if between is not None:
        between()
    return jobs + enqueue_seeding(r, settings, ids[first:])


def seed_machine_explanations_job(
    campaign_id: int | None = None, neuron_ids: list[int] | None = None, k: int = 2
) -> dict[str, Any]:
    """Top up each neuron (of the campaign, or the ones given) to K machine explanations, then score."""
    if (campaign_id is None) == (neuron_ids is None):
        raise ValueError("give either a campaign id or a list of neuron ids")
    if k <= 0:
        return {"written": 0, "neurons": 0}
    ctx = get_context()
    with ctx.db.session() as session:
        query = select(Neuron.id).order_by(col(Neuron.id))
        if campaign_id is not None:
            query = query.where(Neuron.campaign_id == campaign_id)
        else:
            query = query.where(col(Neuron.id).in_(list(neuron_ids or [])))
        ids = [int(i) for i in session.exec(query).all() if i is not None]
    try:
        try:
            explainer = get_explainer(ctx.settings)
        except ExplainerError as exc:
            log.warning("machine explanations skipped: %s", exc)
            return {"written": 0, "neurons": 0, "skipped": str(exc)}
        written = 0
        seeded: list[int] = []
        for neuron_id in ids:
            n = _seed_neuron(ctx.db, explainer, neuron_id, k, ctx.settings.max_explanation_chars)
            if n:
                written += n
                seeded.append(neuron_id)
                _score_baseline(neuron_id)
            ctx.redis.srem(keys.seeding_pending(), neuron_id)  # seeded and scored: serve it
        if written:  # search finds machine explanations too: embed them next, not after the backlog
            default_queue(ctx.redis, ctx.settings).enqueue(
                "workers.reference.embed_explanations_job", None, at_front=True
            )
        return {"written": written, "neurons": len(seeded)}
    finally:
        if ids:  # whatever happened, no neuron stays hidden for good (the SQL check remains)
            ctx.redis.srem(keys.seeding_pending(), *ids)


def _score_baseline(neuron_id: int) -> None:
    """Score the neuron's machine explanations now, in this job, before players see it."""
    try:
        rescore_job(neuron_id)
    except Exception:  # the rescore sweep tries again; the neuron stays unserved until then
        log.exception("machine explanations of neuron %s not scored", neuron_id)


def _seed_neuron(db: Database, explainer: Explainer, neuron_id: int, k: int, max_chars: int) -> int:
    with db.session() as session:
        have = set(
            session.exec(
                select(Explanation.text).where(
                    Explanation.neuron_id == neuron_id, Explanation.source == "machine"
                )
            ).all()
        )
        missing = k - len(have)
        if missing <= 0:
            return 0
        top, _ = campaigns.neuron_records(session, neuron_id)
    try:
        texts = [t for t in explainer.explain(top, missing, max_chars=max_chars) if t not in have]
        if len(texts) < missing:
            # A small model may write nothing usable (smollm2-135m mostly repeats the prompt's
            # example): the puzzle still gets the word-list baseline to beat.
            fallback = TokenListExplainer().explain(top, 1, max_chars=max_chars)
            texts += [t for t in fallback if t not in have and t not in texts]
    except ValueError as exc:  # no active records: nothing to explain
        log.info("neuron %s not seeded: %s", neuron_id, exc)
        return 0
    texts = texts[:missing]
    with db.session() as session:
        session.add_all(Explanation(neuron_id=neuron_id, text=t, source="machine") for t in texts)
        session.commit()
    return len(texts)
