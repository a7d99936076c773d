"""Blind rounds: a quest room keeps each player's explanation text to its author.

A quest pays for the score itself (rooms/quest_rules.py), and the daily's room serves the same
neuron round after round. An ordinary room shows every explanation as it is written, with its
score when it comes, and ranks them in the result — so a player who waited, or watched one
round's result, could hand in the best text of the last round in other words and take its
points. In a blind room the room's events and snapshots carry who wrote, the scores and the
points, but not the texts; the author's own text comes back only in their own snapshot (their
client keeps what it sent), and so do the simulator's predictions for it (the ``score`` event
the room gets carries only the score). The texts are on the unit's page once the quest has closed
(store/sealed.py). Pure: ``redact`` returns new dicts and leaves the room's state untouched.
"""

from __future__ import annotations

from typing import Any

from rooms.quest_rules import QUEST_ROOM_RE

Event = dict[str, Any]


def is_blind_room(room_id: str) -> bool:
    """Quest rooms are blind: the one rule, asked by the room service and the scoring worker."""
    return QUEST_ROOM_RE.match(room_id) is not None


def score_for_the_room(event: Event) -> Event:
    """A ``score`` event as a blind room's members get it: the score, without the simulator's
    per-token predictions and per-record figures, which read out what the hidden text says
    (the author gets the whole event on their own channel)."""
    return {k: v for k, v in event.items() if k not in ("per_record", "detail")} | {"hidden": True}


def _hide(item: dict[str, Any], viewer: int | None) -> dict[str, Any]:
    if viewer is not None and item.get("player_id") == viewer:
        return item
    return {**item, "text": None, "hidden": True}


def redact(event: Event, viewer: int | None = None) -> Event:
    """``event`` as a blind room sends it; ``viewer``: the player a snapshot is for."""
    kind = event.get("type")
    if kind == "explanation":
        return {**event, "explanation": _hide(event["explanation"], viewer)}
    if kind == "score_progress":  # which clue a hidden text predicts well says what it is about
        return {k: v for k, v in event.items() if k != "records"} | {"hidden": True}
    if kind == "round_result":
        return {**event, "entries": [_hide(e, viewer) for e in event.get("entries", [])]}
    if kind == "room":
        out = {**event, "explanations": [_hide(e, viewer) for e in event.get("explanations", [])]}
        if "result" in event:
            out["result"] = redact(event["result"], viewer)
        return out
    return event
