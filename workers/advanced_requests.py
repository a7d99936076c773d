"""Advanced-mode requests waiting for a worker, so that one job answers several at once.

The web process files each ``test_text`` request twice: as an entry on its campaign's
pending list (``keys.test_text_pending``) and as an RQ job
(``workers.activations.test_text_job``) that carries the same request and its entry. A job
first claims its own entry (LREM); if another job's batch took it already, the job ends at
once. Otherwise it takes up to ``test_text_batch_max - 1`` more entries (LPOP) and answers
them all with one forward pass. Taking an entry off the list is the claim — LREM and LPOP
are atomic — so each request is answered exactly once.

The jobs of the requests a batch took are then taken off the queue too, when no worker has
them yet: a job that has nothing left to do still costs a worker its RQ bookkeeping
(measured: 15 ms on the loaded 2-core dev VM), which under 50 concurrent requests adds up to
more than the forward passes themselves.

Nothing here imports the engine: the web process enqueues without loading torch.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

import orjson
import redis
from rq.job import Job

from config import keys
from config.settings import Settings
from workers.queues import model_queue

JOB = "workers.activations.test_text_job"
# Refreshed by every request: a list whose requests nobody drains does not stay forever.
PENDING_TTL_S = 86_400


@dataclass(frozen=True)
class AdvancedRequest:
    campaign: str
    neuron_index: int
    text: str
    player_id: int | str
    room_id: str
    request_id: str  # the client's; not unique across players
    ticket: str = ""  # the id of the request's RQ job: unique, so equal requests are two entries

    def entry(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_entry(cls, raw: bytes | str) -> AdvancedRequest:
        return cls(**orjson.loads(raw))


def enqueue_test_text(
    r: redis.Redis,
    settings: Settings,
    campaign: str,
    neuron_index: int,
    text: str,
    player_id: int | str,
    room_id: str,
    request_id: str,
) -> Job:
    """File the request on its campaign's list, then enqueue the job that answers it (or finds
    it answered by another job's batch)."""
    request = AdvancedRequest(campaign, neuron_index, text, player_id, room_id, request_id, uuid.uuid4().hex)
    entry = request.entry()
    pending = keys.test_text_pending(campaign)
    with r.pipeline() as pipe:
        pipe.rpush(pending, entry)
        pipe.expire(pending, PENDING_TTL_S)
        pipe.execute()
    args = (campaign, neuron_index, text, player_id, room_id, request_id)
    return model_queue(r, settings).enqueue(JOB, *args, batch_entry=entry, job_id=request.ticket)


def claim(r: redis.Redis, campaign: str, entry: str) -> bool:
    """Whether this caller took ``entry`` off the list (False: another job's batch has it)."""
    return int(r.lrem(keys.test_text_pending(campaign), 1, entry)) == 1  # type: ignore[arg-type]


def take(r: redis.Redis, settings: Settings, campaign: str, count: int) -> list[AdvancedRequest]:
    """Up to ``count`` more waiting requests of the campaign, oldest first, now ours to answer;
    their jobs that are still queued are deleted (one a worker already holds ends at once)."""
    if count <= 0:
        return []
    raw = r.lpop(keys.test_text_pending(campaign), count)
    taken = [AdvancedRequest.from_entry(item) for item in raw or []]  # type: ignore[union-attr]
    queue = model_queue(r, settings)
    with r.pipeline() as pipe:
        for request in taken:
            queue.remove(request.ticket, pipeline=pipe)
        removed = pipe.execute()
    with r.pipeline() as pipe:
        # Only jobs this took off the queue: a job a worker runs keeps its hash.
        for request, count_removed in zip(taken, removed, strict=True):
            if count_removed:
                pipe.delete(Job.key_for(request.ticket))
        pipe.execute()
    return taken
