"""A neuron is served to players only once its machine explanations are scored (its bar known).

The issue: machine explanations stayed unscored for an hour, so any score above 0 "beat the
best" (+50 for "the", scored 0.08). Real server, real database, real Redis.
"""

from __future__ import annotations

import redis

from config import keys
from store.db import Database
from store.models import Explanation, Score
from tests.server.conftest import Client, LiveServer


def machine_explanation(db: Database, neuron_id: int, score: float | None) -> int:
    with db.session() as s:
        row = Explanation(neuron_id=neuron_id, text="words about cats", source="machine")
        s.add(row)
        s.commit()
        if score is not None:
            s.add(Score(explanation_id=row.id, simulator="test", version="1", score=score))
            s.commit()
        return int(row.id or 0)


async def test_only_neurons_with_scored_baselines_are_served(
    live_server: LiveServer, campaign: list[int], db: Database, redis_client: redis.Redis
) -> None:
    first, second, third = campaign
    machine_explanation(db, first, None)  # written, not scored yet
    machine_explanation(db, second, 0.3)
    redis_client.sadd(keys.seeding_pending(), second)  # its seeding job has not run
    machine_explanation(db, third, 0.2)
    seen = set()
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    puzzle = await client.join_round("bar")
    seen.add(puzzle["neuron"]["id"])
    for n in range(2, 5):  # every later round too (nobody solves anything: same choices)
        await client.send({"type": "pass"})
        seen.add((await client.expect("puzzle", round=n))["neuron"]["id"])
    assert seen == {third}
    shown = puzzle["explanations"]
    assert [e["score"] for e in shown] == [0.2]
    await client.close()


async def test_no_neuron_with_a_known_bar_means_no_puzzle(
    live_server: LiveServer, campaign: list[int], db: Database
) -> None:
    for neuron_id in campaign:
        machine_explanation(db, neuron_id, None)
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    await client.send({"type": "join", "room": "nothing"})
    notice = await client.expect("notice")
    assert "no puzzles" in notice["message"]
    await client.close()


def test_a_round_played_while_the_bar_was_unknown_pays_no_beat_best() -> None:
    # The case: machine explanations never scored, so "the" (0.08) beat an empty bar.
    from rooms.points import RoundOutcome, award_round
    from rooms.puzzle_room import Puzzle, PuzzleRoom, RoomState, Timing
    from server.live.room_rows import round_facts

    clues = [{"tokens": ["a"], "activations": [1.0]}]
    room = PuzzleRoom(RoomState("r"), Timing())
    room.start_round(Puzzle(7, "c", 7, 1.0, clues, [], None, False, baseline_scored=False), 0)
    room.add_explanation({"id": 5, "player_id": 1, "text": "the"})
    facts = round_facts(room)
    outcome = RoundOutcome(written={5: 1}, authors={5: 1}, scores={5: 0.08}, prior_best=facts.prior_best)
    assert [a.reason for a in award_round(outcome)] == ["first_explanation"]
    room.state.puzzle.baseline_scored = True  # type: ignore[union-attr]  # known bar: none scored
    known = RoundOutcome(
        written={5: 1}, authors={5: 1}, scores={5: 0.08}, prior_best=round_facts(room).prior_best
    )
    assert "beat_best" in [a.reason for a in award_round(known)]
