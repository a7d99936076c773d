"""Team challenges: a match starts only when every challenged team's captain has accepted.

A captain challenges one or more other teams (server/api/matches.py). The challenger's own team
has accepted by asking; each other team's captain accepts or declines. When the last team
accepts, the challenge turns ``accepted`` and the caller opens the match room and records it
here (``room``), so every member of every team finds the room on their team page. A decline
by any captain (or the challenger withdrawing) ends it as ``declined``. Pure rules: no I/O, the
time is passed in; the JSON sits in Redis (server/api/matches.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ChallengeError(Exception):
    """A refused answer: ``code`` for clients, ``reason`` for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class Challenge:
    id: str
    team_ids: list[int]  # the challenger's team first
    names: dict[str, str]  # team id (as text) -> name, for views
    rounds: int
    round_s: float
    created_by: int  # the challenging captain
    created_at: datetime
    accepted: list[int] = field(default_factory=list)
    status: Status = Status.PENDING
    room: str | None = None  # the match room, once accepted

    @classmethod
    def create(
        cls, cid: str, team_ids: list[int], names: dict[str, str], rounds: int, round_s: float,
        created_by: int, now: datetime,
    ) -> Challenge:  # fmt: skip
        if len(team_ids) < 2 or len(set(team_ids)) != len(team_ids):
            raise ChallengeError("bad_teams", "a challenge names two or more different teams")
        return cls(cid, list(team_ids), dict(names), rounds, round_s, created_by, now, [team_ids[0]])

    @property
    def challenger(self) -> int:
        return self.team_ids[0]

    def waiting_for(self) -> list[int]:
        return [t for t in self.team_ids if t not in self.accepted]

    def accept(self, team_id: int) -> bool:
        """The captain of ``team_id`` accepts; True when that was the last team to accept."""
        self._check_open(team_id)
        if team_id not in self.accepted:
            self.accepted.append(team_id)
        if self.waiting_for():
            return False
        self.status = Status.ACCEPTED
        return True

    def decline(self, team_id: int) -> None:
        """Any team's captain ends the challenge (the challenger withdraws the same way)."""
        self._check_open(team_id)
        self.status = Status.DECLINED

    def opened(self, room: str) -> None:
        if self.status is not Status.ACCEPTED:
            raise ChallengeError("not_accepted", "a match opens only after every team accepted")
        self.room = room

    def _check_open(self, team_id: int) -> None:
        if team_id not in self.team_ids:
            raise ChallengeError("not_in_challenge", "your team is not in this challenge")
        if self.status is not Status.PENDING:
            raise ChallengeError("answered", f"this challenge is already {self.status.value}")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "team_ids": self.team_ids, "names": self.names, "rounds": self.rounds,
            "round_s": self.round_s, "created_by": self.created_by,
            "created_at": self.created_at.isoformat(), "accepted": self.accepted,
            "status": self.status.value, "room": self.room,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Challenge:
        return cls(
            id=str(data["id"]), team_ids=[int(t) for t in data["team_ids"]],
            names={str(k): str(v) for k, v in data["names"].items()}, rounds=int(data["rounds"]),
            round_s=float(data["round_s"]), created_by=int(data["created_by"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            accepted=[int(t) for t in data["accepted"]], status=Status(data["status"]),
            room=data.get("room"),
        )  # fmt: skip

    def view(self, for_team: int | None = None) -> dict[str, Any]:
        """What a team page shows: who challenged whom, who still has to answer, the room."""
        teams = [{"id": t, "name": self.names.get(str(t), f"team {t}"), "accepted": t in self.accepted}
                 for t in self.team_ids]  # fmt: skip
        return {
            "id": self.id,
            "status": self.status.value,
            "challenger": {"id": self.challenger, "name": self.names.get(str(self.challenger), "")},
            "teams": teams,
            "rounds": self.rounds,
            "round_s": self.round_s,
            "created_at": self.created_at.isoformat(),
            "room": self.room,
            "incoming": for_team is not None and for_team != self.challenger,
            "awaiting_us": for_team is not None and self.status is Status.PENDING
            and for_team in self.waiting_for(),
        }  # fmt: skip
