"""A streamer room's rules on top of a puzzle room: who may enter, who may command, the clock.

Pure rules, no I/O (like rooms/puzzle_room.py): the caller loads ``StreamerState`` and the
puzzle room's ``RoomState`` under the room's lock, calls one rule, saves both and appends
the events. Time is passed in.

* Roles: the host (who created the room), moderators (named by the host), players (members
  of the puzzle room, at most ``player_cap`` besides host and moderators) and the audience
  (everyone past the cap or after the room was locked: they watch and vote, they do not play).
* Entry: banned players (by player id, which is also the account, or by the session id of the
  browser they were banned from) are refused; a private room is entered only with its code.
* Clock: the room is held (puzzle_room ``held``) until the host starts it; pause freezes the
  time left, resume gives it back, extend adds to it, next ends the current phase now.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from config.errors import (
    ERR_BAD_FIELD,
    ERR_BANNED,
    ERR_NOT_HOST,
    ERR_NOT_MODERATOR,
    ERR_PAUSED,
    ERR_PRIVATE_ROOM,
    ERR_WRONG_PHASE,
)
from rooms.moderation import FilterMode
from rooms.puzzle_room import Phase, RoomError, RoomState


class Role(StrEnum):
    HOST = "host"
    MODERATOR = "moderator"
    PLAYER = "player"
    AUDIENCE = "audience"


@dataclass
class StreamerState:
    room_id: str
    code: str
    host_id: int
    host_name: str = ""  # as players see the host: the name chosen when creating the room
    created_at: float = 0.0
    locked: bool = False
    private: bool = False
    player_cap: int = 12
    approval: bool = False  # explanations wait for a moderator before the room sees them
    filter: str = FilterMode.MASK.value
    show_code: bool = False  # the overlay and the room may see the code
    started: bool = False
    paused: bool = False
    paused_left: float | None = None  # seconds left on the clock when paused
    moderators: list[int] = field(default_factory=list)
    banned_players: list[int] = field(default_factory=list)
    banned_sessions: list[str] = field(default_factory=list)
    sessions: dict[int, str] = field(default_factory=dict)  # player -> session id it joined from
    # explanation id -> {"explanation": {...as the room would see it}, "round": n}
    pending: dict[int, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sessions"] = {str(k): v for k, v in self.sessions.items()}
        data["pending"] = {str(k): v for k, v in self.pending.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StreamerState:
        data = dict(data)
        data["sessions"] = {int(k): v for k, v in data.get("sessions", {}).items()}
        data["pending"] = {int(k): v for k, v in data.get("pending", {}).items()}
        return cls(**data)

    @property
    def filter_mode(self) -> FilterMode:
        return FilterMode(self.filter)

    # -- roles -------------------------------------------------------------------------------
    def role_of(self, player_id: int) -> Role:
        if player_id == self.host_id:
            return Role.HOST
        if player_id in self.moderators:
            return Role.MODERATOR
        return Role.PLAYER

    def require_host(self, player_id: int) -> None:
        if player_id != self.host_id:
            raise RoomError(ERR_NOT_HOST, "only the host of this room may do that")

    def require_moderator(self, player_id: int) -> None:
        if player_id != self.host_id and player_id not in self.moderators:
            raise RoomError(ERR_NOT_MODERATOR, "only the host or a moderator of this room may do that")

    # -- entry -------------------------------------------------------------------------------
    def admit(self, player_id: int, session_id: str | None, members: dict[int, str], by_code: bool) -> Role:
        """The role a newcomer gets, or RoomError when refused. ``members``: the puzzle room's."""
        if player_id in self.banned_players or (session_id and session_id in self.banned_sessions):
            raise RoomError(ERR_BANNED, "the host banned you from this room")
        role = self.role_of(player_id)
        if role is not Role.PLAYER:
            return role
        if player_id in members:
            return Role.PLAYER  # a reconnect keeps the seat, even in a locked or full room
        if self.private and not by_code:
            raise RoomError(ERR_PRIVATE_ROOM, "this room is private: join it with its code")
        players = [pid for pid in members if self.role_of(pid) is Role.PLAYER]
        if self.locked or len(players) >= self.player_cap:
            return Role.AUDIENCE
        return Role.PLAYER

    def ban(self, player_id: int) -> None:
        if player_id == self.host_id:
            raise RoomError(ERR_BAD_FIELD, "the host cannot ban themselves")
        if player_id not in self.banned_players:
            self.banned_players.append(player_id)
        session = self.sessions.get(player_id)
        if session and session not in self.banned_sessions:
            self.banned_sessions.append(session)
        if player_id in self.moderators:
            self.moderators.remove(player_id)

    # -- the clock ---------------------------------------------------------------------------
    def start(self, room: RoomState, now: float) -> None:
        if self.started and not self.paused:
            raise RoomError(ERR_WRONG_PHASE, "the room is already running")
        self.started = True
        self.resume(room, now)

    def pause(self, room: RoomState, now: float) -> None:
        if not self.started or self.paused:
            raise RoomError(ERR_WRONG_PHASE, "the room is not running")
        self.paused = True
        self.paused_left = max(0.0, room.deadline - now) if room.deadline is not None else None
        room.held, room.deadline = True, None

    def resume(self, room: RoomState, now: float) -> None:
        """Give the clock back: the time that was left, or (a lobby) start at once."""
        was_left, self.paused, self.paused_left = self.paused_left, False, None
        room.held = False
        if was_left is not None:
            room.deadline = now + was_left
        elif room.phase is Phase.LOBBY:
            room.deadline = now if room.members else None
        elif room.deadline is None:
            room.deadline = now

    def extend(self, room: RoomState, seconds: float) -> float:
        """Add seconds to the round's clock (frozen or running); returns the new time left/deadline."""
        if room.phase is not Phase.ROUND:
            raise RoomError(ERR_WRONG_PHASE, "only a running round's timer can be extended")
        if self.paused and self.paused_left is not None:
            self.paused_left += seconds
            return self.paused_left
        if room.deadline is None:
            raise RoomError(ERR_WRONG_PHASE, "the round has no timer to extend")
        room.deadline += seconds
        return room.deadline

    def skip(self, room: RoomState, now: float) -> None:
        """End the current phase now: a round goes to its reveal, a reveal or lobby to the next puzzle."""
        if not self.started:
            raise RoomError(ERR_WRONG_PHASE, "start the room first")
        if self.paused:
            raise RoomError(ERR_PAUSED, "resume the room first")
        room.deadline = now
        room.reveal_min_until = now

    # -- views -------------------------------------------------------------------------------
    def public(self, audience: int = 0) -> dict[str, Any]:
        """What everyone in the room (and the overlay) may see; the code only when shown."""
        view: dict[str, Any] = {
            "room": self.room_id,
            "host": self.host_id,
            "host_name": self.host_name,
            "moderators": list(self.moderators),
            "locked": self.locked,
            "private": self.private,
            "player_cap": self.player_cap,
            "approval": self.approval,
            "filter": self.filter,
            "started": self.started,
            "paused": self.paused,
            "paused_left": self.paused_left,
            "audience": audience,
        }
        if self.show_code:
            view["code"] = self.code
        return view

    def for_staff(self, audience: int = 0) -> dict[str, Any]:
        """The host's and moderators' view: the code, the approval queue, the bans."""
        return {
            **self.public(audience),
            "code": self.code,
            "show_code": self.show_code,
            "pending": [item["explanation"] for _, item in sorted(self.pending.items())],
            "banned": list(self.banned_players),
        }
