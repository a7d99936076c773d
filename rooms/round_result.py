"""The round's result as players read it: every explanation ranked by score, with its author,
its votes and the points it brought, a podium, and each player's points with the reasons.

Pure, like rooms/puzzle_room.py: built from the room's state and the round's awards. While
the reveal waits for scores the points are the ones rooms.points would give with the scores
known so far (``final`` False); the round's end sends the awards that were stored (``final``
True). The client draws it (client/js/result.js); the room service sends it as a
``round_result`` event when the reveal starts, when a score arrives during it, and at the end.
"""

from __future__ import annotations

from typing import Any

from rooms.points import Award, award_round, top_explanation
from rooms.puzzle_room import Phase, PuzzleRoom

PODIUM = 3
LEFT = "a player who left"


def _names(room: PuzzleRoom) -> dict[int, str]:
    s = room.state
    names: dict[int, str] = {}
    for e in [*(s.puzzle.shown if s.puzzle else []), *s.written.values()]:
        if e.get("player_id") is not None and e.get("player_name"):
            names[int(e["player_id"])] = str(e["player_name"])
    names.update(s.members)
    return names


def provisional_awards(room: PuzzleRoom) -> list[Award]:
    """The awards rooms.points gives the round as it stands (scores known so far)."""
    if room.state.puzzle is None:
        return []
    return award_round(room._outcome())  # the same outcome the round's end settles


def round_result(room: PuzzleRoom, awards: list[Award], *, final: bool) -> dict[str, Any]:
    """The ``round_result`` event for the room's current (or just finished) round."""
    s = room.state
    names = _names(room)
    votes: dict[int, int] = {}
    for _, eid in s.votes:
        votes[eid] = votes.get(eid, 0) + 1
    shown = {int(e["id"]): e for e in (s.puzzle.shown if s.puzzle else [])}
    candidates = {**shown, **s.written}
    top = top_explanation({eid: sc for eid, sc in s.scores.items() if eid in candidates})
    by_explanation: dict[int, list[dict[str, Any]]] = {}
    for a in awards:
        if a.explanation_id is not None:
            by_explanation.setdefault(a.explanation_id, []).append(_award(a, names))
    # This round's explanations, and the earlier ones the round's players voted for or that
    # still ended on top (they decide the top_vote points).
    listed = [eid for eid in candidates if eid in s.written or votes.get(eid) or eid == top]
    entries = []
    for eid in listed:
        e = candidates[eid]
        player = e.get("player_id")
        entries.append(
            {
                "explanation_id": eid,
                "text": e.get("text", ""),
                "player_id": player,
                "author": names.get(int(player), LEFT) if player is not None else "machine",
                "earlier": eid not in s.written,
                "score": s.scores.get(eid),
                "votes": votes.get(eid, 0),
                "points": by_explanation.get(eid, []),
            }
        )
    # Best score first, unscored last; ties to the earlier explanation (rooms.points' rule).
    entries.sort(key=lambda x: (x["score"] is None, -(x["score"] or 0.0), x["explanation_id"]))
    for rank, entry in enumerate(entries, start=1):
        entry["rank"] = rank
    podium = [x["explanation_id"] for x in entries if not x["earlier"] and x["score"] is not None][:PODIUM]
    return {
        "type": "round_result",
        "round": s.round_no,
        "final": final,
        "neuron_id": s.puzzle.neuron_id if s.puzzle else None,
        "top": top,
        "waiting": sorted(eid for eid in s.written if eid not in s.scores),
        "entries": entries,
        "podium": podium,
        # Members, and everyone who wrote or voted this round (a clock step may load the room
        # without its member list).
        "players": _players(awards, names, _taking_part(room, names)),
    }


def _taking_part(room: PuzzleRoom, names: dict[int, str]) -> dict[int, str]:
    s = room.state
    ids = {*s.members, *(int(e["player_id"]) for e in s.written.values()), *(v for v, _ in s.votes)}
    return {pid: names.get(pid, LEFT) for pid in ids}


def _award(a: Award, names: dict[int, str]) -> dict[str, Any]:
    return {**a.to_json(), "name": names.get(a.player_id, LEFT)}


def _players(awards: list[Award], names: dict[int, str], members: dict[int, str]) -> list[dict[str, Any]]:
    """Every member (0 points too) and everyone awarded, most points first."""
    totals: dict[int, dict[str, Any]] = {
        pid: {"player_id": pid, "name": name, "total": 0, "awards": []} for pid, name in members.items()
    }
    for a in awards:
        row = totals.setdefault(
            a.player_id,
            {"player_id": a.player_id, "name": names.get(a.player_id, LEFT), "total": 0, "awards": []},
        )
        row["total"] += a.amount
        row["awards"].append({"amount": a.amount, "reason": a.reason, "explanation_id": a.explanation_id})
    return sorted(totals.values(), key=lambda r: (-r["total"], r["name"], r["player_id"]))


def result_events(
    room: PuzzleRoom, events: list[dict[str, Any]], awards: list[Award]
) -> list[dict[str, Any]]:
    """``events`` of one clock step with the round's result added: provisional after a
    ``reveal``, final (the stored awards) after a ``round_end`` and its ``points``."""
    out = list(events)
    types = {e.get("type") for e in events}
    if "round_end" in types:
        out.append(round_result(room, awards, final=True))
    elif "reveal" in types:
        out.append(round_result(room, provisional_awards(room), final=False))
    return out


def on_score(room: PuzzleRoom) -> list[dict[str, Any]]:
    """A score arrived: during the reveal, the updated result; otherwise nothing."""
    if room.state.phase is not Phase.REVEAL or room.state.puzzle is None:
        return []
    return [round_result(room, provisional_awards(room), final=False)]
