"""A neuron is served to players only once its machine explanations are scored (its bar known).

The issue: machine explanations stayed unscored for an hour, so any score above 0 "beat the
best" (+50 for "the", scored 0.08). Real server, real database, real Redis.
"""

from __future__ import annotations

import redis

from config import keys
from config.settings import Settings
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


def ready_and_coming(db: Database, r: redis.Redis, campaign: list[int]) -> list[int]:
    """The campaign's three units: the first unscored, the second scored but its seeding job
    still pending (coming), the third ready."""
    first, second, third = campaign
    machine_explanation(db, first, None)
    machine_explanation(db, second, 0.3)
    r.sadd(keys.seeding_pending(), second)
    machine_explanation(db, third, 0.2)
    return campaign


async def test_only_neurons_with_scored_baselines_are_served(
    live_server: LiveServer, campaign: list[int], db: Database, redis_client: redis.Redis
) -> None:
    first, second, third = campaign
    machine_explanation(db, first, None)  # written, not scored yet
    machine_explanation(db, second, 0.3)
    redis_client.sadd(keys.seeding_pending(), second)  # its seeding job has not run
    machine_explanation(db, third, 0.2)
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    puzzle = await client.join_round("bar")
    assert puzzle["neuron"]["id"] == third
    assert [e["score"] for e in puzzle["explanations"]] == [0.2]
    # Round 1 played; the only ready unit was just played and another is being explained: the
    # room waits for it rather than serving the same puzzle again (a fresh install's first minutes).
    await client.send({"type": "pass"})
    notice = await client.expect("notice", where=lambda e: "being prepared" in e["message"])
    live_server.clock.advance(11)  # the room tries again: still nothing new, still waiting
    await client.expect("notice", where=lambda e: e is not notice and "being prepared" in e["message"])
    assert not [e for e in client.events if e.get("type") == "puzzle" and e.get("round") == 2]
    redis_client.srem(keys.seeding_pending(), second)  # seeded and scored: it may be served
    live_server.clock.advance(11)
    assert (await client.expect("puzzle", round=2))["neuron"]["id"] == second
    # Nothing new is coming now: a room that played everything ready replays (never starves).
    await client.send({"type": "pass"})
    assert (await client.expect("puzzle", round=3))["neuron"]["id"] in {second, third}
    await client.close()


async def test_a_room_waits_for_new_puzzles_only_so_long(
    live_server: LiveServer,
    campaign: list[int],
    db: Database,
    redis_client: redis.Redis,
    hub_settings: Settings,
) -> None:
    """A seeding job that never runs (no worker) must not starve the room: after
    ``room_wait_for_new_s`` it serves a played unit again."""
    third = ready_and_coming(db, redis_client, campaign)[2]
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    assert (await client.join_round("wait"))["neuron"]["id"] == third
    await client.send({"type": "pass"})
    await client.expect("notice", where=lambda e: "being prepared" in e["message"])
    live_server.clock.advance(hub_settings.room_wait_for_new_s + 11)
    assert (await client.expect("puzzle", round=2))["neuron"]["id"] == third
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


async def test_a_room_left_while_waiting_is_forgotten(
    live_server: LiveServer,
    campaign: list[int],
    db: Database,
    redis_client: redis.Redis,
    hub_settings: Settings,
) -> None:
    """Rooms waiting for a new unit are remembered in the process; one left while it waited is
    never picked for again and must not stay there for good."""
    ready_and_coming(db, redis_client, campaign)
    kind = live_server.server.config.app.state.ctx.service.kinds.of("left")
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    await client.join_round("left")
    await client.send({"type": "pass"})
    await client.expect("notice", where=lambda e: "being prepared" in e["message"])
    assert "left" in kind._waiting_since
    await client.close()  # gone while the room waits
    live_server.clock.advance(2 * hub_settings.room_wait_for_new_s + 1)
    other = await Client.connect(live_server.ws_url)
    await other.expect("welcome")
    await other.join_round("other")  # its round 1 is third: nothing to wait for yet
    await other.send({"type": "pass"})
    await other.expect("notice", where=lambda e: "being prepared" in e["message"])
    assert set(kind._waiting_since) == {"other"}
    await other.close()
