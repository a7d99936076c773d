"""Who answers which scoring request, and who scores which explanation (workers/scoring.py).

A request is claimed by deleting its key (GETDEL): exactly one job gets it. A guard key per
(explanation, simulator, version) names the job scoring it; a job may take over a guard whose
holder died — its own earlier attempt (a retry keeps the job id) or a job RQ no longer runs.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import orjson
import redis
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from config import keys
from workers import scoring_lanes as lanes

log = logging.getLogger(__name__)


def claim(r: redis.Redis, request_id: str) -> dict[str, Any] | None:
    raw = r.getdel(keys.scoring_request(request_id))
    return None if raw is None else {"request_id": request_id, **orjson.loads(raw)}  # type: ignore[arg-type]


def unclaim(r: redis.Redis, requests: list[dict[str, Any]], ttl_s: int) -> None:
    """Put requests back after a failure, at the front of their lanes (a retry keeps its place),
    so the retry (or another job) answers them first."""
    for req in reversed(requests):  # each goes to its lane's front: reversed keeps their order
        lane = req.get("lane") or lanes.lane_of(None, req["room_id"])
        body = {"explanation_id": req["explanation_id"], "room_id": req["room_id"], "lane": lane}
        r.set(keys.scoring_request(req["request_id"]), orjson.dumps(body), ex=ttl_s)
        lanes.put_back(r, lane, req["request_id"])


def guard_owner() -> str:
    """Who holds a guard: the RQ job (the same id on every retry), else this one call."""
    job = get_current_job()
    return f"job:{job.id}" if job is not None else f"call:{os.getpid()}:{uuid.uuid4().hex}"


def take_over(r: redis.Redis, guard: str, owner: str, ttl_s: int) -> bool:
    """Take a guard whose holder died: this job's own earlier attempt, or a job that is not
    running any more (RQ found it abandoned). Compare-and-set, so two takers cannot both win."""
    holder = r.get(guard)
    if holder is None:
        return False  # released meanwhile: the next round's SET NX takes it
    name = holder.decode() if isinstance(holder, bytes) else str(holder)
    if name != owner and not (name.startswith("job:") and not _job_running(r, name[4:])):
        return False
    with r.pipeline() as pipe:
        try:
            pipe.watch(guard)
            if pipe.get(guard) != holder:
                return False
            pipe.multi()
            pipe.set(guard, owner, ex=ttl_s)
            pipe.execute()
        except redis.WatchError:
            return False
    log.warning("took over scoring guard %s from %s", guard, name)
    return True


def _job_running(r: redis.Redis, job_id: str) -> bool:
    try:
        return Job.fetch(job_id, connection=r).get_status() == JobStatus.STARTED
    except NoSuchJobError:
        return False
