"""The fair line for scoring: one player's many submissions do not queue ahead of the others'.

Real Redis; the last test runs the real scoring job on the real database.
"""

from __future__ import annotations

import redis
from sqlmodel import select

from config import keys
from config.settings import Settings
from store.db import Database
from store.models import Explanation, Neuron, Score
from tests.workers.test_scoring_jobs import _events, _setup
from workers import context, scoring
from workers import scoring_lanes as lanes
from workers.scoring_claims import claim, unclaim


def test_a_flood_from_one_player_gets_one_place_per_turn(redis_client: redis.Redis) -> None:
    for n in range(50):
        lanes.add(redis_client, "p1", f"flood-{n}")
    for player in (2, 3, 4):
        lanes.add(redis_client, f"p{player}", f"solo-{player}")
    first = lanes.take(redis_client, 4)
    assert first == ["flood-0", "solo-2", "solo-3", "solo-4"]  # not flood-0..3
    assert lanes.take(redis_client, 3) == ["flood-1", "flood-2", "flood-3"]  # alone now
    rest = lanes.take(redis_client, 100)
    assert rest == [f"flood-{n}" for n in range(4, 50)]
    assert lanes.depth(redis_client) == 0 and lanes.take(redis_client, 5) == []
    assert not redis_client.exists(keys.scoring_lane("p1"))


def test_a_newcomer_waits_at_most_one_turn_of_the_ring(redis_client: redis.Redis) -> None:
    for n in range(20):
        lanes.add(redis_client, "p1", f"a{n}")
        lanes.add(redis_client, "p2", f"b{n}")
    lanes.take(redis_client, 5)  # a0 b0 a1 b1 a2: p2 is at the ring's head now
    lanes.add(redis_client, "p3", "c0")
    assert lanes.take(redis_client, 3) == ["b2", "a3", "c0"]


def test_a_put_back_request_keeps_its_place(redis_client: redis.Redis) -> None:
    for n in range(3):
        lanes.add(redis_client, "p1", f"a{n}")
    lanes.add(redis_client, "p2", "b0")
    assert lanes.take(redis_client, 1) == ["a0"]
    lanes.put_back(redis_client, "p1", "a0")  # its attempt failed
    assert lanes.take(redis_client, 2) == ["b0", "a0"]  # the front of its lane, not its back
    lanes.take(redis_client, 10)
    lanes.add(redis_client, "p2", "b1")
    lanes.put_back(redis_client, "p9", "z0")  # an idle lane's retry goes to the ring's front
    assert lanes.take(redis_client, 2) == ["z0", "b1"]


def test_unclaim_puts_requests_back_in_their_lanes_in_order(redis_client: redis.Redis) -> None:
    for n in range(2):
        redis_client.set(
            keys.scoring_request(f"r{n}"), b'{"explanation_id": 1, "room_id": "x", "lane": "p5"}'
        )
        lanes.add(redis_client, "p5", f"r{n}")
    taken = [claim(redis_client, rid) for rid in lanes.take(redis_client, 1) + lanes.take(redis_client, 1)]
    unclaim(redis_client, [t for t in taken if t], ttl_s=60)
    assert lanes.take(redis_client, 5) == ["r0", "r1"]
    assert claim(redis_client, "r0") == {
        "request_id": "r0",
        "explanation_id": 1,
        "room_id": "x",
        "lane": "p5",
    }


def test_the_first_job_scores_everyone_before_a_flooder_s_backlog(
    settings: Settings, db: Database, redis_client: redis.Redis, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    neuron_id, _ = _setup(settings, db)
    with db.session() as s:
        flood = [Explanation(neuron_id=neuron_id, text=f"months {n}", player_id=None) for n in range(6)]
        other = Explanation(neuron_id=neuron_id, text="month names", player_id=None)
        s.add_all([*flood, other])
        s.commit()
        flood_ids, other_id = [int(e.id or 0) for e in flood], int(other.id or 0)
        assert s.get(Neuron, neuron_id) is not None
    cfg = context.get_context().settings
    monkeypatch.setattr(scoring, "BATCH_MAX", 2)
    jobs = [scoring.enqueue_scoring(redis_client, cfg, eid, f"room-{eid}", 1) for eid in flood_ids]
    late = scoring.enqueue_scoring(redis_client, cfg, other_id, "room-other", 2)  # filed last
    # The first job to run (flooder's first) takes one request per lane: the newcomer is in it.
    scoring.score_explanation_job(flood_ids[0], f"room-{flood_ids[0]}", jobs[0].args[2])
    assert [e["type"] for e in _events(redis_client, "room-other")][-1] == "score"
    with db.session() as s:
        scored = set(s.exec(select(Score.explanation_id)).all())
    assert scored == {flood_ids[0], other_id}
    assert late.args[:2] == (other_id, "room-other")


def test_a_retried_scoring_job_goes_to_the_front_of_the_queue(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    _, (eid, _, _) = _setup(settings, db)
    job = scoring.enqueue_scoring(redis_client, context.get_context().settings, eid, "room-a", 1)
    assert job.enqueue_at_front_on_retry and job.retries_left == 2
