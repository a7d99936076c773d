"""kill -9 an RQ worker while it scores an explanation (issue 10): the job is retried and the
room gets the score exactly once.

Real processes: a web process, `python -m server worker --queues model` (as `neuronquest up`
runs it) scoring with the embedding simulator, a second worker started after the kill (what
the supervisor does when its worker dies). The neuron has 40 long records, so scoring takes
seconds: the test kills the worker as soon as the room shows the first ``score_progress``,
which is mid-job for certain (nothing is stored yet; that is asserted, not assumed). Timeouts
come from Settings: a 2 s job heartbeat, maintenance every second, retry at once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Worker
from rq.job import Job, JobStatus
from sqlmodel import select

from config.settings import Settings
from store import eventlog
from store.db import Database
from store.models import Campaign, Neuron, Score, Snippet
from tests.server.conftest import Client
from tests.support.counts import counts
from tests.support.points_audit import audit_points
from tests.support.roles import Role, start_web, start_worker
from workers.queues import model_queue

ROOM = "crash-scoring"
WORDS = ["the", "cat", "sat", "on", "a", "warm", "mat", "while", "rain", "fell", "over", "the", "town"]


def _seed_slow_neuron(db: Database, campaign: str, records: int = 20, tokens: int = 64) -> int:
    """One playable neuron with ``records`` top and random records of ``tokens`` tokens each."""
    words = itertools.cycle(WORDS)
    with db.session() as s:
        c = Campaign(name=campaign, model="minilm-l6", layer=3, status="ready", neuron_end=1)
        s.add(c)
        s.commit()
        neuron = Neuron(campaign_id=c.id, index=0, max_activation=2.0)
        s.add(neuron)
        s.commit()
        for kind in ("top", "random"):
            for rank in range(records):
                toks = [f" {next(words)}" for _ in range(tokens)]
                acts = [2.0 if kind == "top" and t == " cat" else 0.0 for t in toks]
                s.add(
                    Snippet(
                        neuron_id=neuron.id,
                        kind=kind,
                        rank=rank,
                        tokens=toks,
                        activations=acts,
                        max_activation=max(acts),
                        max_index=acts.index(max(acts)),
                    )
                )
        s.commit()
        return int(neuron.id or 0)


@pytest.fixture
def roles() -> Iterator[list[Role]]:
    started: list[Role] = []
    yield started
    for role in reversed(started):
        role.stop()


def _scores(db: Database, explanation_id: int) -> list[Score]:
    with db.session() as s:
        return list(s.exec(select(Score).where(Score.explanation_id == explanation_id)).all())


async def _listening(r: redis.Redis, cfg: Settings, workers: int, timeout: float = 120) -> None:
    """Until that many workers listen on the model queue (they register after loading the model)."""
    deadline = time.monotonic() + timeout
    while len(Worker.all(connection=r, queue=model_queue(r, cfg))) < workers:
        assert time.monotonic() < deadline, "workers did not start"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize(
    "recovery",
    [
        # A second worker, idle, finds the abandoned job at its periodic maintenance.
        pytest.param("survivor", marks=pytest.mark.long),
        pytest.param("restarted", marks=pytest.mark.faults_slow),  # the supervisor's restart
    ],
)
async def test_kill_9_a_worker_mid_scoring_the_retry_scores_once_and_the_room_hears_once(
    settings: Settings,
    db: Database,
    redis_client: redis.Redis,
    tmp_path: Path,
    roles: list[Role],
    recovery: str,
) -> None:
    cfg = settings.model_copy(
        update={
            "simulator": "embedding",
            "job_heartbeat_ttl_s": 2,
            "worker_maintenance_s": 1,
            "worker_ttl_s": 16,  # RQ polls every worker_ttl_s - 15 = 1 s
            "scoring_retry_s": 0,
            "room_lobby_s": 0.0,
            "room_round_s": 8.0,
            "room_reveal_s": 180.0,  # the reveal waits for the score, however long the retry takes
            "room_reveal_min_s": 0.0,
        }
    )
    _seed_slow_neuron(db, cfg.default_campaign)
    logs = tmp_path / "logs"
    roles.append(web := start_web(cfg, logs))
    workers = [start_worker(cfg, logs, "worker-1")]
    if recovery == "survivor":
        workers.append(start_worker(cfg, logs, "worker-2"))
        roles.extend(workers)
        await _listening(redis_client, cfg, 2)
    else:
        roles.extend(workers)
    alice, bob = await Client.connect(web.ws_url), await Client.connect(web.ws_url)
    alice_id = (await alice.expect("welcome"))["player"]["id"]
    await bob.expect("welcome")
    await alice.join_round(ROOM)
    await bob.join_round(ROOM)
    await alice.send({"type": "submit", "text": "the word cat"})
    eid = (await bob.expect("explanation"))["explanation"]["id"]
    await bob.send({"type": "vote", "explanation_id": eid})
    await alice.expect("vote")
    before = counts(db)
    assert (before.explanations, before.votes, before.scores, before.points) == (1, 1, 0, 0)

    # A worker loads its model first (seconds), then scores: kill it at its first progress.
    progress = await alice.expect("score_progress", timeout=120, explanation_id=eid)
    [entry] = model_queue(redis_client, cfg).started_job_registry.get_job_ids()
    job_id = entry.split(":")[0]  # entries are job_id:execution_id
    scorer = Job.fetch(job_id, connection=redis_client).worker_name
    doomed = next(w for w in workers if scorer == f"nq-{w.proc.pid}")
    doomed.kill9()
    killed_at = time.monotonic()
    assert progress["done"] < progress["total"], "killed mid-job"
    assert _scores(db, eid) == [], "nothing stored by the killed attempt"

    if recovery == "restarted":
        roles.append(start_worker(cfg, logs, "worker-2"))  # what the supervisor does after a crash
    score = await alice.expect("score", timeout=120, explanation_id=eid)
    recovered_s = time.monotonic() - killed_at
    awards = (await alice.expect("points", timeout=60))["awards"]
    await alice.drain(1.0)
    await bob.drain(0.2)

    for client in (alice, bob):
        told = [e for e in client.events if e["type"] == "score" and e["explanation_id"] == eid]
        assert len(told) == 1, f"exactly one score event, got {len(told)}"
    in_log = [e for e in eventlog.since(redis_client, ROOM, 0) or [] if e["type"] == "score"]
    assert [e["explanation_id"] for e in in_log] == [eid]
    [row] = _scores(db, eid)
    assert (row.score, row.simulator, row.version) == (score["score"], score["simulator"], score["version"])
    job = Job.fetch(job_id, connection=redis_client)
    assert job.get_status() == JobStatus.FINISHED and job.retries_left == 1, "finished on its one retry"
    assert job.worker_name != scorer, "another worker finished it"
    after = counts(db)
    assert (after.explanations, after.votes, after.scores) == (1, 1, 1)
    assert after.points == sum(a["amount"] for a in awards) and after.point_events == len(awards)
    first = {"player_id": alice_id, "amount": 20, "reason": "first_explanation", "explanation_id": eid}
    assert first in awards
    audit = audit_points(db, redis_client)  # every room: announced points == stored PointEvents
    assert audit.announced > 0 and (audit.wrongly_awarded, audit.lost) == (0, 0), audit.details
    print(f"{recovery}: the score reached the room {recovered_s:.1f} s after the kill")
    await alice.close()
    await bob.close()
