"""The RQ worker every `neuronquest worker` runs: a SimpleWorker whose running job has a heartbeat.

RQ's SimpleWorker runs a job in its own process (models stay loaded), but it registers the
job as started for the job's whole timeout plus 60 s and never renews that while the job
runs. A worker killed mid-job (kill -9, the OOM killer) therefore leaves a job that RQ
calls abandoned only after that time — ten minutes and more for a scoring job — and only
at a maintenance run, every ten minutes by default. Here a thread renews the job's entry
every third of ``job_heartbeat_ttl_s`` while it runs, so a dead worker's entry expires
within that TTL, and maintenance runs every ``worker_maintenance_s``: whichever worker runs
it next hands the job to RQ's abandoned-job handling, which retries it (``Retry`` on the
job) or fails it. The job's own timeout (``job_timeout``) still ends a job that hangs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from rq import Queue, SimpleWorker
from rq.job import Job

from config.settings import Settings

log = logging.getLogger(__name__)


class HeartbeatWorker(SimpleWorker):
    def __init__(self, *args: Any, job_heartbeat_ttl_s: int = 30, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job_heartbeat_ttl_s = job_heartbeat_ttl_s
        self._beats: tuple[threading.Thread, threading.Event] | None = None

    def get_heartbeat_ttl(self, job: Job) -> int:
        # The started-registry entry (and the worker's key) outlive the last beat by this much.
        return self.job_heartbeat_ttl_s

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        stop = threading.Event()
        thread = threading.Thread(target=self._beat, args=(job, stop), name="rq-job-heartbeat", daemon=True)
        thread.start()
        self._beats = (thread, stop)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        self._stop_beats()  # before RQ's bookkeeping removes the entry the beats renew
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        finally:
            self._stop_beats()

    def _stop_beats(self) -> None:
        if self._beats is not None:
            thread, stop = self._beats
            self._beats = None
            stop.set()
            thread.join(5)

    def _beat(self, job: Job, stop: threading.Event) -> None:
        interval = max(0.5, self.job_heartbeat_ttl_s / 3)
        while not stop.wait(interval):
            try:
                self.maintain_heartbeats(job)
            except Exception:  # Redis away for a moment: the next beat tries again
                log.warning("heartbeat of job %s failed", job.id, exc_info=True)


def make_worker(
    queues: list[Queue], connection: redis.Redis, settings: Settings, name: str
) -> HeartbeatWorker:
    return HeartbeatWorker(
        queues,
        connection=connection,
        name=name,
        job_heartbeat_ttl_s=settings.job_heartbeat_ttl_s,
        maintenance_interval=settings.worker_maintenance_s,
        worker_ttl=settings.worker_ttl_s,
    )
