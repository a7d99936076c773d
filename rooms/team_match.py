"""Team match rules as a state machine: no I/O, time passed in, events returned for the room.

Two or more teams play timed rounds on the same neurons, one neuron per round. During a round
any member may submit explanations for the round's neuron; scores arrive later (workers), and
each team's BEST score per neuron counts: a team's score is the sum over neurons of its best.
Scores of explanations written in time count until the match finishes, which is one review
period after the last round (time for the workers to answer). Ties in the final standings share
a competition rank (1, 1, 3); the order among them is the time each team reached its score.

    lobby --start--> round --time--> review --time--> round ... review --time--> finished

Storing a finished match (Match and MatchResult rows, the team_win badge) is
store/competition/matches.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from config.errors import ERR_FINISHED, ERR_NOT_IN_MATCH, ERR_OTHER_TEAM

Event = dict[str, Any]


class Phase(StrEnum):
    LOBBY = "lobby"
    ROUND = "round"
    REVIEW = "review"
    FINISHED = "finished"


class MatchError(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class Best:
    score: float
    at: datetime  # when the score arrived: the earlier of two equal bests stands
    explanation_id: int


@dataclass
class TeamMatch:
    room_id: str
    team_ids: list[int]
    neuron_ids: list[int]
    round_s: float
    review_s: float
    phase: Phase = Phase.LOBBY
    round_index: int = -1
    phase_ends_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    players: dict[int, int] = field(default_factory=dict)  # player -> team
    submissions: dict[int, tuple[int, int]] = field(default_factory=dict)  # explanation -> (team, neuron)
    best: dict[tuple[int, int], Best] = field(default_factory=dict)  # (team, neuron) -> best

    @classmethod
    def create(
        cls, room_id: str, team_ids: list[int], neuron_ids: list[int], round_s: float, review_s: float
    ) -> TeamMatch:
        if len(set(team_ids)) < 2 or len(set(team_ids)) != len(team_ids):
            raise MatchError("bad_teams", "a team match needs two or more different teams")
        if not neuron_ids:
            raise MatchError("bad_neurons", "a team match needs at least one neuron")
        if round_s <= 0 or review_s < 0:
            raise MatchError("bad_timing", "rounds must last a positive time")
        return cls(room_id, list(team_ids), list(neuron_ids), round_s, review_s)

    # -- storage (the live match sits in Redis beside its room: server/live/match_rooms.py) -----
    def to_json(self) -> dict[str, Any]:
        def stamp(at: datetime | None) -> str | None:
            return at.isoformat() if at else None

        return {
            "room_id": self.room_id, "team_ids": self.team_ids, "neuron_ids": self.neuron_ids,
            "round_s": self.round_s, "review_s": self.review_s, "phase": self.phase.value,
            "round_index": self.round_index, "phase_ends_at": stamp(self.phase_ends_at),
            "started_at": stamp(self.started_at), "ended_at": stamp(self.ended_at),
            "players": [[p, t] for p, t in self.players.items()],
            "submissions": [[e, t, n] for e, (t, n) in self.submissions.items()],
            "best": [[t, n, b.score, b.at.isoformat(), b.explanation_id] for (t, n), b in self.best.items()],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TeamMatch:
        def when(raw: str | None) -> datetime | None:
            return datetime.fromisoformat(raw) if raw else None

        return cls(
            room_id=data["room_id"], team_ids=[int(t) for t in data["team_ids"]],
            neuron_ids=[int(n) for n in data["neuron_ids"]], round_s=float(data["round_s"]),
            review_s=float(data["review_s"]), phase=Phase(data["phase"]),
            round_index=int(data["round_index"]), phase_ends_at=when(data["phase_ends_at"]),
            started_at=when(data["started_at"]), ended_at=when(data["ended_at"]),
            players={int(p): int(t) for p, t in data["players"]},
            submissions={int(e): (int(t), int(n)) for e, t, n in data["submissions"]},
            best={
                (int(t), int(n)): Best(float(s), datetime.fromisoformat(at), int(e))
                for t, n, s, at, e in data["best"]
            },
        )  # fmt: skip

    # -- commands ------------------------------------------------------------------------
    def join(self, player_id: int, team_id: int) -> Event:
        if team_id not in self.team_ids:
            raise MatchError(ERR_NOT_IN_MATCH, f"team {team_id} does not play in this match")
        if self.phase is Phase.FINISHED:
            raise MatchError(ERR_FINISHED, "the match is over")
        if self.players.get(player_id, team_id) != team_id:
            raise MatchError(ERR_OTHER_TEAM, "you already play for another team")
        self.players[player_id] = team_id
        return {"type": "match.joined", "player_id": player_id, "team_id": team_id}

    def start(self, now: datetime) -> list[Event]:
        if self.phase is not Phase.LOBBY:
            raise MatchError("started", "the match has started")
        teams_present = set(self.players.values())
        if len(teams_present) < 2:
            raise MatchError("bad_teams", "at least two teams need a player to start")
        self.started_at = now
        return self._begin_round(0, now)

    def submit(self, player_id: int, explanation_id: int, now: datetime) -> Event:
        self.tick(now)
        if self.phase is not Phase.ROUND:
            raise MatchError("no_round", "explanations are accepted during a round only")
        team_id = self.players.get(player_id)
        if team_id is None:
            raise MatchError("not_playing", "join a team of this match first")
        if explanation_id in self.submissions:
            raise MatchError("duplicate", "that explanation is already in the match")
        neuron_id = self.neuron_ids[self.round_index]
        self.submissions[explanation_id] = (team_id, neuron_id)
        return {
            "type": "match.submitted",
            "team_id": team_id,
            "neuron_id": neuron_id,
            "explanation_id": explanation_id,
        }

    def adopt(self, player_id: int, explanation_id: int, neuron_id: int) -> bool:
        """Count an explanation the room accepted in a round of this match but that reached the
        match only after its score (the two travel separately); False when it cannot count."""
        team_id = self.players.get(player_id)
        played = self.neuron_ids[: self.round_index + 1]
        if team_id is None or neuron_id not in played or self.phase is Phase.FINISHED:
            return False
        self.submissions.setdefault(explanation_id, (team_id, neuron_id))
        return True

    def record_score(self, explanation_id: int, score: float, now: datetime) -> list[Event]:
        """A worker's score for a submitted explanation; returns the live scores if they moved."""
        events = self.tick(now)
        if self.phase is Phase.FINISHED or explanation_id not in self.submissions:
            return events  # late or foreign scores change nothing
        team_id, neuron_id = self.submissions[explanation_id]
        current = self.best.get((team_id, neuron_id))
        if current is not None and score <= current.score:
            return events
        self.best[(team_id, neuron_id)] = Best(score, now, explanation_id)
        return [*events, self.scores_event()]

    def tick(self, now: datetime) -> list[Event]:
        """Advance by the clock (several phases if a long time passed)."""
        events: list[Event] = []
        while self.phase_ends_at is not None and now >= self.phase_ends_at:
            ended = self.phase_ends_at
            if self.phase is Phase.ROUND:
                self.phase, self.phase_ends_at = Phase.REVIEW, ended + timedelta(seconds=self.review_s)
                events.append(
                    {
                        "type": "match.review",
                        "round": self.round_index,
                        "ends_at": self.phase_ends_at.isoformat(),
                    }
                )
            elif self.round_index + 1 < len(self.neuron_ids):
                events += self._begin_round(self.round_index + 1, ended)
            else:
                self.phase, self.phase_ends_at, self.ended_at = Phase.FINISHED, None, ended
                events.append({"type": "match.finished", "standings": self.standings_json()})
        return events

    # -- views ---------------------------------------------------------------------------
    def team_scores(self) -> dict[int, float]:
        totals = dict.fromkeys(self.team_ids, 0.0)
        for (team_id, _), best in self.best.items():
            totals[team_id] += best.score
        return totals

    def standings(self) -> list[tuple[int, float, int]]:
        """(team, score, competition rank), best first; equal scores: who got there first."""
        scores = self.team_scores()
        reached = {
            t: max((b.at for (tt, _), b in self.best.items() if tt == t), default=None) for t in self.team_ids
        }
        far = datetime.max.replace(tzinfo=self.started_at.tzinfo if self.started_at else None)
        order = sorted(self.team_ids, key=lambda t: (-round(scores[t], 9), reached[t] or far, t))
        out: list[tuple[int, float, int]] = []
        for i, team_id in enumerate(order):
            tied = out and round(out[-1][1], 9) == round(scores[team_id], 9)
            out.append((team_id, scores[team_id], out[-1][2] if tied else i + 1))
        return out

    def standings_json(self) -> list[dict[str, Any]]:
        return [{"team_id": t, "score": round(s, 6), "rank": r} for t, s, r in self.standings()]

    def scores_event(self) -> Event:
        return {
            "type": "match.scores",
            "scores": {str(t): round(s, 6) for t, s in self.team_scores().items()},
        }

    def _begin_round(self, index: int, at: datetime) -> list[Event]:
        self.phase, self.round_index = Phase.ROUND, index
        self.phase_ends_at = at + timedelta(seconds=self.round_s)
        return [{
            "type": "match.round", "round": index, "of": len(self.neuron_ids),
            "neuron_id": self.neuron_ids[index], "ends_at": self.phase_ends_at.isoformat(),
        }]  # fmt: skip
