"""Teams: create, invite by code, join, leave, captain.

A player is in at most one team (TeamMember's unique constraint says so in SQL). The creator
is the captain; when the captain leaves, the longest-standing member takes over; a team with
no members keeps its name, results and code but has no captain. A team's boards count its
current members' points since they joined, so a leave recomputes that team's boards from SQL.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlmodel import Session

from config.settings import Settings
from store import competition
from store.competition.boards_rebuild import rebuild_team
from store.models import Player, Team, TeamMember

# No 0/O, 1/I/L: codes are read aloud and typed from streams.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


class TeamError(Exception):
    """A refused team action: ``code`` for clients, ``reason`` for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class TeamView:
    id: int
    name: str
    invite_code: str | None  # only shown to members
    captain_id: int | None
    members: list[dict[str, object]]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "invite_code": self.invite_code,
            "captain_id": self.captain_id,
            "members": self.members,
        }


def new_invite_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "")


def _clean_name(name: str, max_chars: int) -> str:
    cleaned = " ".join(str(name).split())
    if not cleaned or len(cleaned) > max_chars or not cleaned.isprintable():
        raise TeamError("bad_name", f"a team name has 1 to {max_chars} printable characters")
    return cleaned


def _require_player(session: Session, player_id: int) -> Player:
    player = session.get(Player, player_id)
    if player is None:
        raise TeamError("no_player", f"no player {player_id}")
    return player


def create_team(
    session: Session, r: redis.Redis, player_id: int, name: str, now: datetime, settings: Settings
) -> Team:
    _require_player(session, player_id)
    cleaned = _clean_name(name, settings.max_name_chars)
    if competition.membership_of(session, player_id) is not None:
        raise TeamError("already_in_team", "leave your team before creating another")
    if competition.team_by_name(session, cleaned) is not None:
        raise TeamError("name_taken", f"a team called {cleaned!r} exists")
    for _ in range(5):  # a code collision is rare; the unique constraint catches it
        team = Team(name=cleaned, invite_code=new_invite_code(), captain_id=player_id, created_at=now)
        session.add(team)
        if competition.try_commit(session):
            break
    else:
        raise TeamError("name_taken", f"could not create team {cleaned!r}")
    session.add(TeamMember(team_id=team.id or 0, player_id=player_id, joined_at=now))
    if not competition.try_commit(session):
        raise TeamError("already_in_team", "leave your team before creating another")
    return team


def join_team(
    session: Session, r: redis.Redis, player_id: int, code: str, now: datetime, settings: Settings
) -> Team:
    _require_player(session, player_id)
    team = competition.team_by_code(session, normalise_code(code))
    if team is None:
        raise TeamError("bad_code", "no team has that invite code")
    if competition.membership_of(session, player_id) is not None:
        raise TeamError("already_in_team", "leave your team before joining another")
    session.add(TeamMember(team_id=team.id or 0, player_id=player_id, joined_at=now))
    if not competition.try_commit(session):
        raise TeamError("already_in_team", "leave your team before joining another")
    if team.captain_id is None:
        team.captain_id = player_id
        session.add(team)
        session.commit()
    # Nothing to do on the boards: a new member has no points since joining yet.
    return team


def leave_team(session: Session, r: redis.Redis, player_id: int, now: datetime, settings: Settings) -> Team:
    member = competition.membership_of(session, player_id)
    if member is None:
        raise TeamError("not_in_team", "you are not in a team")
    team = session.get(Team, member.team_id)
    assert team is not None  # TeamMember.team_id is a foreign key
    session.delete(member)
    session.commit()
    if team.captain_id == player_id:
        rest = competition.team_members(session, team.id or 0)
        team.captain_id = rest[0].player_id if rest else None
        session.add(team)
        session.commit()
    rebuild_team(r, session, team.id or 0, now, settings)
    return team


def set_captain(session: Session, captain_id: int, team_id: int, new_captain_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise TeamError("no_team", f"no team {team_id}")
    if team.captain_id != captain_id:
        raise TeamError("not_captain", "only the captain can hand over the captaincy")
    member = competition.membership_of(session, new_captain_id)
    if member is None or member.team_id != team_id:
        raise TeamError("not_member", "the new captain must be a member of the team")
    team.captain_id = new_captain_id
    session.add(team)
    session.commit()
    return team


def show_team(session: Session, team_id: int, viewer_id: int | None = None) -> TeamView:
    team = session.get(Team, team_id)
    if team is None:
        raise TeamError("no_team", f"no team {team_id}")
    members = competition.team_members(session, team_id)
    players = competition.players_by_id(session, [m.player_id for m in members])
    rows: list[dict[str, object]] = [
        {"id": m.player_id, "name": players[m.player_id].name, "joined_at": m.joined_at.isoformat()}
        for m in members
        if m.player_id in players
    ]
    is_member = viewer_id is not None and any(m.player_id == viewer_id for m in members)
    return TeamView(team.id or 0, team.name, team.invite_code if is_member else None, team.captain_id, rows)
