"""The puzzle room as an explicit state machine: lobby -> round -> reveal -> (next) round.

Pure rules, no I/O: the caller (server/live/room_service.py) loads the state, calls one
transition with the current time, stores the state and appends the returned events to the
room's log. Time is always passed in, never read here, so tests drive the clock.

* lobby: waits ``lobby_s`` after someone is present, then asks for a puzzle.
* round: the clues are shown; players submit one explanation each and cast one vote each
  (not for their own; a new vote replaces the player's earlier one) until the deadline. Each
  round has a ``round_key`` that names it everywhere (SQL rows, point claims), unique across
  rooms and across a Redis wipe (the start time is part of it).
* reveal: scores stream in from the workers; it ends when every explanation of the round is
  scored (but not before ``reveal_min_s``, the time to read the result) or at the latest after
  ``reveal_s`` (the bound on waiting for scores). Then the round's outcome goes to rooms.points
  and the room goes back to the lobby, which asks for the next puzzle at once when members are
  present.

A round ends early once every connected player is done: submitted and voted, or passed
(rooms/round_flow.py). A private room has a creator who sets its round length, result time and
number of rounds in a held lobby and starts the game (rooms/private_game.py); those per-room
timings override ``Timing`` here.

Membership, the rules (stated here once; server/live/room_members.py runs the same in Lua):
players join and leave in any phase. A player may hold several connections (tabs, a reconnect
racing the old socket): a join counts one more, a leave one fewer, and the player is a member
(``joined`` once, ``left`` once) while any is open; a kick or a ban drops them all at once. A
rename changes a member's name (``renamed``); strangers change nothing. A room bigger than
``announce_max`` changes members silently (no event): announcing every join of a join storm to
everyone already there would be n^2 frames. The room service does not call ``join``/``leave``/
``rename``: it keeps members in Redis hashes changed by the Lua scripts, without the room lock,
and fills ``members`` on load; tests/server/test_membership_rules.py runs random sequences
through both and requires the same members and events. ``arm_lobby``/``rest_if_empty`` are
what both share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from config.errors import (
    ERR_ALREADY_SUBMITTED,
    ERR_DOUBLE_VOTE,
    ERR_NOT_FOUND,
    ERR_NOT_IN_ROOM,
    ERR_OWN_VOTE,
    ERR_WRONG_PHASE,
)
from rooms.points import RoundOutcome, top_explanation

# How long a lobby without puzzles waits before asking again.
NO_PUZZLE_RETRY_S = 10.0


class Phase(StrEnum):
    LOBBY = "lobby"
    ROUND = "round"
    REVEAL = "reveal"


class RoomError(Exception):
    """A move the rules refuse; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Timing:
    lobby_s: float = 3.0
    round_s: float = 180.0
    reveal_s: float = 30.0
    reveal_min_s: float = 12.0


@dataclass
class Puzzle:
    neuron_id: int
    campaign: str
    neuron_index: int
    max_activation: float
    clues: list[dict[str, Any]]
    # Older explanations of the neuron shown with the puzzle, each
    # {"id", "text", "player_id", "player_name", "score"}; they can be voted for.
    shown: list[dict[str, Any]] = field(default_factory=list)
    prior_best: float | None = None
    prior_explained: bool = False
    # False when a machine explanation of the neuron had no score yet (rooms/points.py).
    baseline_scored: bool = True
    # The unit's identity (store/units.py unit_identity): a neuron, or a latent shown as a
    # "feature". Empty in rooms saved before units existed: those puzzles are neurons.
    unit: dict[str, Any] = field(default_factory=dict)

    def neuron(self) -> dict[str, Any]:
        return {
            "id": self.neuron_id,
            "campaign": self.campaign,
            "index": self.neuron_index,
            "max_activation": self.max_activation,
            "unit": self.unit or {"unit": "neuron", "word": "neuron", "index": self.neuron_index},
        }


@dataclass
class RoomState:
    room_id: str
    phase: Phase = Phase.LOBBY
    round_no: int = 0
    deadline: float | None = None
    reveal_min_until: float | None = None
    members: dict[int, str] = field(default_factory=dict)  # player id -> name
    conns: dict[int, int] = field(default_factory=dict)  # player id -> open connections
    puzzle: Puzzle | None = None
    written: dict[int, dict[str, Any]] = field(default_factory=dict)  # this round's explanations
    votes: list[tuple[int, int]] = field(default_factory=list)  # (voter, explanation id)
    scores: dict[int, float] = field(default_factory=dict)
    recent: list[int] = field(default_factory=list)  # neuron ids of the last rounds
    round_key: str = ""  # this round's name in SQL (Explanation/Vote.round_key, PlayedRound)
    # A held room's clock stands still: a streamer room before its host starts it, or paused
    # (rooms/streamer_room.py), or a private room before its creator presses Start.
    # Joining a held lobby does not start its countdown.
    held: bool = False
    # Players who passed this round (done without submitting or voting; a pass is not a vote).
    passed: list[int] = field(default_factory=list)
    # A private room (rooms/private_game.py): its creator, its own timings (None: the defaults)
    # and the game being played: rounds wanted, rounds played, points and best explanation.
    creator: int | None = None
    round_s: float | None = None
    reveal_min_s: float | None = None
    rounds: int | None = None
    game_round: int = 0
    totals: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    # The campaign a private or streamer room plays, chosen when it was made (None: the
    # default campaign), and what its puzzles are called ("neuron" or "feature").
    campaign: str | None = None
    campaign_word: str | None = None

    def to_json(self) -> dict[str, Any]:
        # Shallow: asdict() deep-copied every clue's token and activation lists on each save.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["puzzle"] = dict(vars(self.puzzle)) if self.puzzle else None
        data["votes"] = [list(v) for v in self.votes]
        data["phase"] = self.phase.value
        for name in ("members", "conns", "written", "scores", "totals", "names"):
            data[name] = {str(k): v for k, v in data[name].items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoomState:
        puzzle = data.get("puzzle")
        return cls(
            room_id=data["room_id"],
            phase=Phase(data["phase"]),
            round_no=data["round_no"],
            deadline=data["deadline"],
            reveal_min_until=data["reveal_min_until"],
            # The room service keeps membership outside the saved state (server/live/room_members.py).
            members={int(k): v for k, v in data.get("members", {}).items()},
            conns={int(k): v for k, v in data.get("conns", {}).items()},
            puzzle=Puzzle(**puzzle) if puzzle else None,
            written={int(k): v for k, v in data["written"].items()},
            votes=[(int(a), int(b)) for a, b in data["votes"]],
            scores={int(k): float(v) for k, v in data["scores"].items()},
            recent=list(data["recent"]),
            held=bool(data.get("held", False)),
            passed=[int(p) for p in data.get("passed", [])],
            creator=data.get("creator"),
            round_s=data.get("round_s"),
            reveal_min_s=data.get("reveal_min_s"),
            rounds=data.get("rounds"),
            game_round=int(data.get("game_round", 0)),
            totals={int(k): int(v) for k, v in data.get("totals", {}).items()},
            names={int(k): str(v) for k, v in data.get("names", {}).items()},
            best=data.get("best"),
            round_key=str(data.get("round_key", "")),
            campaign=data.get("campaign"),
            campaign_word=data.get("campaign_word"),
        )


def round_key(room_id: str, round_no: int, started: float) -> str:
    """A round's name: room, number and start time in ms (a wiped room restarts at round 1)."""
    return f"{room_id}/{round_no}/{int(started * 1000)}"


class PuzzleRoom:
    def __init__(self, state: RoomState, timing: Timing) -> None:
        self.state = state
        self.timing = timing
        # Players whose joins and leaves wait for the next ``members_event`` (the live rooms
        # keep them in Redis: server/live/room_members.py).
        self.unannounced: set[int] = set()

    # -- membership -------------------------------------------------------------------------
    # Joins and leaves are not announced one by one: the room announces them together, at most
    # every Settings.room_member_flush_s, in one ``members`` event (``members_event``), so a
    # room of n filling up costs its members a few frames each instead of n (issue 19).
    def join(
        self, player_id: int, name: str, now: float, announce_max: int | None = None
    ) -> list[dict[str, Any]]:
        s = self.state
        s.conns[player_id] = s.conns.get(player_id, 0) + 1
        if player_id in s.members:
            return []
        s.members[player_id] = name
        if announce_max is None or len(s.members) <= announce_max:
            self.unannounced.add(player_id)
        return self.arm_lobby(now)

    def members_event(self, announce_max: int | None = None) -> list[dict[str, Any]]:
        """The unannounced joins and leaves as one event: who of them is in the room now (with
        the name shown), who is not, and the room's size. Built from the members at this
        moment, so the last event that names a player says where that player is, whatever order
        the changes came in. Nothing in a room bigger than ``announce_max`` (clients follow its
        ``crowd`` count)."""
        changed, self.unannounced = sorted(self.unannounced), set()
        members = self.state.members
        if not changed or (announce_max is not None and len(members) > announce_max):
            return []
        return [
            {
                "type": "members",
                "joined": [{"id": pid, "name": members[pid]} for pid in changed if pid in members],
                "left": [pid for pid in changed if pid not in members],
                "count": len(members),
            }
        ]

    def arm_lobby(self, now: float) -> list[dict[str, Any]]:
        """Someone is present in an idle lobby: start its countdown (a held room waits)."""
        s = self.state
        if not self.arm_lobby_wanted() or not s.members:
            return []
        s.deadline = now + self.timing.lobby_s
        return [{"type": "lobby", "deadline": s.deadline}]

    def arm_lobby_wanted(self) -> bool:
        """Could ``arm_lobby`` start a countdown (members aside)? A cheap check before locking."""
        s = self.state
        return s.phase is Phase.LOBBY and s.deadline is None and not s.held

    def rest_if_empty(self) -> None:
        """Nobody left in the lobby: stop its countdown until someone comes."""
        if not self.state.members and self.state.phase is Phase.LOBBY:
            self.state.deadline = None

    def leave(
        self, player_id: int, now: float, *, every_connection: bool = False, announce_max: int | None = None
    ) -> list[dict[str, Any]]:
        """One connection closes; ``every_connection``: a kick or a ban drops them all."""
        s = self.state
        if player_id not in s.members:
            return []
        s.conns[player_id] = 0 if every_connection else s.conns.get(player_id, 1) - 1
        if s.conns[player_id] > 0:
            return []
        del s.conns[player_id]
        del s.members[player_id]
        self.rest_if_empty()
        if announce_max is None or len(s.members) < announce_max:  # else it was a big room
            self.unannounced.add(player_id)
        return []

    def rename(self, player_id: int, name: str, announce_max: int | None = None) -> list[dict[str, Any]]:
        if player_id not in self.state.members:
            return []
        self.state.members[player_id] = name
        if announce_max is not None and len(self.state.members) > announce_max:
            return []
        return [{"type": "renamed", "player": {"id": player_id, "name": name}}]

    # -- the clock -------------------------------------------------------------------------
    def wants_puzzle(self, now: float) -> bool:
        s = self.state
        # A held room never asks for a puzzle itself: its host or its match starts the rounds.
        ready = s.phase is Phase.LOBBY and bool(s.members) and not s.held
        return ready and s.deadline is not None and now >= s.deadline

    def is_due(self, now: float) -> bool:
        """Does ``tick`` (or a new puzzle) have work to do at ``now``?"""
        return now >= self.due_at()

    def due_at(self) -> float:
        """The moment ``is_due`` turns true while the state stays as it is (inf: never)."""
        s = self.state
        if s.deadline is None:
            return math.inf
        if s.phase is Phase.REVEAL and self._all_scored():
            return s.reveal_min_until or 0.0
        return s.deadline

    def start_round(self, puzzle: Puzzle, now: float) -> list[dict[str, Any]]:
        s = self.state
        s.phase, s.puzzle = Phase.ROUND, puzzle
        s.round_no += 1
        s.round_key = round_key(s.room_id, s.round_no, now)
        s.deadline, s.reveal_min_until = now + self.round_s(), None
        s.written, s.votes, s.scores, s.passed = {}, [], {}, []
        for old in puzzle.shown:
            if old.get("score") is not None:
                s.scores[int(old["id"])] = float(old["score"])
        s.recent = [*s.recent, puzzle.neuron_id][-20:]
        return [
            {
                "type": "puzzle",
                "round": s.round_no,
                "deadline": s.deadline,
                "neuron": puzzle.neuron(),
                "clues": puzzle.clues,
                "explanations": puzzle.shown,
            }
        ]

    def no_puzzle(self, now: float, reason: str) -> list[dict[str, Any]]:
        self.state.deadline = now + NO_PUZZLE_RETRY_S
        return [{"type": "notice", "message": reason}]

    def tick(self, now: float) -> tuple[list[dict[str, Any]], RoundOutcome | None]:
        """Advance round -> reveal -> lobby when due; returns events and a finished round."""
        s = self.state
        if not self.is_due(now):
            return [], None
        if s.phase is Phase.ROUND:
            s.phase = Phase.REVEAL
            reading = self.reveal_min_s()
            # Never cut the reading time short while waiting for scores: the bound is the longer.
            s.deadline = now + max(self.timing.reveal_s, reading)
            s.reveal_min_until = now + reading
            event = {"type": "reveal", "round": s.round_no, "deadline": s.deadline, **self._standings()}
            return [{**event, "min_until": s.reveal_min_until}], None
        if s.phase is Phase.REVEAL:
            outcome = self._outcome()
            top = top_explanation(outcome.scores)
            events = [{"type": "round_end", "round": s.round_no, "top": top, **self._standings()}]
            s.phase = Phase.LOBBY
            s.deadline = now if s.members and not s.held else None
            s.reveal_min_until = None
            return events, outcome
        return [], None

    def round_s(self) -> float:
        return self.state.round_s if self.state.round_s is not None else self.timing.round_s

    def reveal_min_s(self) -> float:
        s = self.state
        return s.reveal_min_s if s.reveal_min_s is not None else self.timing.reveal_min_s

    # -- moves -----------------------------------------------------------------------------
    def check_submit(self, player_id: int) -> Puzzle:
        s = self.state
        self._check_member_in_round(player_id)
        if any(e["player_id"] == player_id for e in s.written.values()):
            raise RoomError(ERR_ALREADY_SUBMITTED, "one explanation per player per round")
        assert s.puzzle is not None
        return s.puzzle

    def add_explanation(self, explanation: dict[str, Any]) -> list[dict[str, Any]]:
        self.state.written[int(explanation["id"])] = explanation
        return [{"type": "explanation", "round": self.state.round_no, "explanation": explanation}]

    def check_vote(self, player_id: int, explanation_id: int) -> None:
        self._check_member_in_round(player_id)
        authors = self._authors()
        if explanation_id not in authors:
            raise RoomError(ERR_NOT_FOUND, f"explanation {explanation_id} is not part of this puzzle")
        if authors[explanation_id] == player_id:
            raise RoomError(ERR_OWN_VOTE, "you cannot vote for your own explanation")
        if (player_id, explanation_id) in self.state.votes:
            raise RoomError(ERR_DOUBLE_VOTE, "you already voted for this explanation")

    def add_vote(self, player_id: int, explanation_id: int) -> list[dict[str, Any]]:
        """One vote per player per round: a new vote moves the player's earlier one."""
        s = self.state
        events = []
        previous = [eid for voter, eid in s.votes if voter == player_id]
        s.votes = [(voter, eid) for voter, eid in s.votes if voter != player_id]
        for old in previous:
            count = sum(1 for _, eid in s.votes if eid == old)
            moved = {"type": "vote", "explanation_id": old, "votes": count, "player_id": player_id}
            events.append({**moved, "withdrawn": True})
        s.votes.append((player_id, explanation_id))
        count = sum(1 for _, eid in s.votes if eid == explanation_id)
        events.append(
            {"type": "vote", "explanation_id": explanation_id, "votes": count, "player_id": player_id}
        )
        return events

    def record_score(self, explanation_id: int, score: float) -> bool:
        """A worker's score for a candidate of the current puzzle; idempotent."""
        if explanation_id not in self._authors() or self.state.scores.get(explanation_id) == score:
            return False
        self.state.scores[explanation_id] = score
        return True

    # -- views -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        s = self.state
        return {
            "type": "room",
            "room": s.room_id,
            "phase": s.phase.value,
            "round": s.round_no,
            "deadline": s.deadline,
            "members": [{"id": pid, "name": name} for pid, name in s.members.items()],
            "neuron": s.puzzle.neuron() if s.puzzle else None,
            "clues": s.puzzle.clues if s.puzzle else [],
            "explanations": [*(s.puzzle.shown if s.puzzle else []), *s.written.values()],
            "passed": list(s.passed),
            "min_until": s.reveal_min_until,
            **({"game": self.game_view()} if s.creator is not None else {}),
            # A room made to play a chosen campaign says which, and what its puzzles are called.
            **({"campaign": s.campaign, "word": s.campaign_word} if s.campaign is not None else {}),
            **self._standings(),
        }

    def game_view(self) -> dict[str, Any]:
        """A private room's lobby facts: who runs it, its settings, how far the game is."""
        s = self.state
        return {
            "creator": s.creator,
            "round_s": self.round_s(),
            "reveal_s": self.reveal_min_s(),
            "rounds": s.rounds,
            "game_round": s.game_round,
            "started": not s.held,
            "campaign": s.campaign,  # None: the default campaign
            "word": s.campaign_word,
        }

    # -- helpers ---------------------------------------------------------------------------
    def _check_member_in_round(self, player_id: int) -> None:
        s = self.state
        if player_id not in s.members:
            raise RoomError(ERR_NOT_IN_ROOM, "join a room first")
        if s.phase is not Phase.ROUND or s.puzzle is None:
            raise RoomError(ERR_WRONG_PHASE, f"the room is in its {s.phase.value}; wait for the next round")

    def _authors(self) -> dict[int, int | None]:
        s = self.state
        authors: dict[int, int | None] = {
            int(e["id"]): e.get("player_id") for e in (s.puzzle.shown if s.puzzle else [])
        }
        authors.update({eid: e["player_id"] for eid, e in s.written.items()})
        return authors

    def _all_scored(self) -> bool:
        return all(eid in self.state.scores for eid in self.state.written)

    def _standings(self) -> dict[str, Any]:
        s = self.state
        votes: dict[str, int] = {}
        for _, eid in s.votes:
            votes[str(eid)] = votes.get(str(eid), 0) + 1
        return {"scores": {str(k): v for k, v in s.scores.items()}, "votes": votes}

    def _outcome(self) -> RoundOutcome:
        s = self.state
        assert s.puzzle is not None
        return RoundOutcome(
            written={eid: int(e["player_id"]) for eid, e in s.written.items()},
            authors=self._authors(),
            scores=dict(s.scores),
            votes=list(s.votes),
            prior_best=s.puzzle.prior_best,
            prior_explained=s.puzzle.prior_explained,
            round_key=s.round_key,
            neuron_id=s.puzzle.neuron_id,
        )
