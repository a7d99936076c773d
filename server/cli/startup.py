"""What `neuronquest up` does once every role is running: make sure there is something to play.

On a fresh data dir the default campaign is mined once. The work runs on the worker
(an RQ job, so it uses the same model process as everything else); the supervisor
watches the job's progress channel and draws a progress bar in the terminal.
"""

from __future__ import annotations

import sys
import threading
import time

import orjson
import redis

from config import keys
from config.settings import Settings
from store.db import Database

DEFAULT_CAMPAIGN_JOB_ID = "nq-default-campaign"


def _bar(event: dict, width: int = 28) -> str:
    total = max(1, int(event.get("total") or 1))
    done = min(total, int(event.get("tokens") or 0))
    filled = int(width * done / total)
    eta = event.get("eta_s")
    eta_text = f"ETA {eta:.0f}s" if isinstance(eta, (int, float)) else ""
    return (
        f"\r[neuronquest] mining puzzles [{'#' * filled}{'.' * (width - filled)}] "
        f"{done:,}/{total:,} tokens {event.get('tokens_per_s', 0):,.0f} tok/s {eta_text}   "
    )


def after_start(settings: Settings, stopping: threading.Event) -> None:
    from rq import Retry

    from workers.mining import default_campaign_missing, ensure_default_campaign_job
    from workers.queues import default_queue

    db = Database(settings, run_migrations=False)
    try:
        if not default_campaign_missing(settings, db):
            return
    finally:
        db.dispose()
    r = redis.Redis.from_url(settings.redis_url)
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.job_progress_channel(DEFAULT_CAMPAIGN_JOB_ID))
    queue = default_queue(r, settings)  # background work: the interactive worker stays free
    job = queue.fetch_job(DEFAULT_CAMPAIGN_JOB_ID)
    if job is None or job.get_status(refresh=True) in ("finished", "failed", "stopped", "canceled"):
        if job is not None:
            job.delete()
        queue.enqueue(
            ensure_default_campaign_job,
            job_id=DEFAULT_CAMPAIGN_JOB_ID,
            job_timeout=6 * 3600,
            retry=Retry(max=2),
            description="mine the default campaign",
        )
    print(
        f"[neuronquest] first start: mining the default campaign '{settings.default_campaign}' "
        f"({settings.default_model}, layer {settings.default_layer}, {settings.default_neurons} neurons)",
        flush=True,
    )
    last_draw = 0.0
    try:
        while not stopping.is_set():
            message = pubsub.get_message(timeout=0.5)
            if message is None:
                status = job_status(queue)
                if status == "failed":
                    print("\n[neuronquest] mining failed; see the worker's log", flush=True)
                    return
                continue
            event = orjson.loads(message["data"])
            if event.get("type") == "progress" and time.monotonic() - last_draw > 0.25:
                last_draw = time.monotonic()
                sys.stdout.write(_bar(event))
                sys.stdout.flush()
            elif event.get("type") == "done":
                print(f"\n[neuronquest] {event.get('neurons', 0)} puzzles ready", flush=True)
                return
            elif event.get("type") == "failed":
                print(f"\n[neuronquest] mining failed: {event.get('error')}", flush=True)
                return
    finally:
        pubsub.close()
        r.close()


def job_status(queue) -> str | None:  # type: ignore[no-untyped-def]
    job = queue.fetch_job(DEFAULT_CAMPAIGN_JOB_ID)
    return None if job is None else str(job.get_status(refresh=True))
