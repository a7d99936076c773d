"""Streamer-room messages of the wire protocol (issue 7), parsed by server.wire.protocol.parse.

They live in their own module so the streamer feature reads in one place; server/wire/protocol.py
registers them in its one parse function and calls ``check`` for the checks beyond types.
``check`` returns (error code, message) or None; it never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from rooms.moderation import FilterMode
from rooms.roomcodes import normalize

OVERLAY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{10,64}$")
CAMPAIGN_FIELD = "campaign: an installed campaign's name (1-128 characters)"


def campaign_name_ok(name: str) -> bool:
    """The shape of a campaign name a room may ask for (whether it is installed, the room
    service checks): 1-128 printable characters, as store/models.py Campaign.name holds."""
    return 1 <= len(name) <= 128 and name.isprintable()


@dataclass(frozen=True)
class CreateRoom:
    type: ClassVar[str] = "create_room"
    kind: str | None = None  # "streamer", the only kind (the field is there for later kinds)
    player_cap: int | None = None
    private: bool | None = None
    approval: bool | None = None
    filter: str | None = None
    host_name: str | None = None  # the name players and the stream see for the host (their channel's)
    campaign: str | None = None  # an installed campaign's name; None: the default campaign


@dataclass(frozen=True)
class JoinCode:
    type: ClassVar[str] = "join_code"
    code: str
    audience: bool | None = None  # True: "join as audience": watch and vote, never take a player's seat


@dataclass(frozen=True)
class Watch:
    """The overlay: read-only, with the overlay token the host console shows."""

    type: ClassVar[str] = "watch"
    overlay: str


@dataclass(frozen=True)
class Start:
    type: ClassVar[str] = "start"


@dataclass(frozen=True)
class Pause:
    type: ClassVar[str] = "pause"


@dataclass(frozen=True)
class Resume:
    type: ClassVar[str] = "resume"


@dataclass(frozen=True)
class NextPuzzle:
    type: ClassVar[str] = "next_puzzle"


@dataclass(frozen=True)
class Extend:
    type: ClassVar[str] = "extend"
    seconds: float


@dataclass(frozen=True)
class Kick:
    type: ClassVar[str] = "kick"
    player_id: int


@dataclass(frozen=True)
class Ban:
    type: ClassVar[str] = "ban"
    player_id: int


@dataclass(frozen=True)
class Unban:
    type: ClassVar[str] = "unban"
    player_id: int


@dataclass(frozen=True)
class SetModerator:
    type: ClassVar[str] = "set_moderator"
    player_id: int
    on: bool | None = None  # false takes the role away; missing means true


@dataclass(frozen=True)
class RoomSettings:
    type: ClassVar[str] = "room_settings"
    locked: bool | None = None
    private: bool | None = None
    player_cap: int | None = None
    approval: bool | None = None
    filter: str | None = None
    show_code: bool | None = None


@dataclass(frozen=True)
class Approve:
    type: ClassVar[str] = "approve"
    explanation_id: int


@dataclass(frozen=True)
class Reject:
    type: ClassVar[str] = "reject"
    explanation_id: int


@dataclass(frozen=True)
class RemoveExplanation:
    type: ClassVar[str] = "remove_explanation"
    explanation_id: int


@dataclass(frozen=True)
class CloseRoom:
    type: ClassVar[str] = "close_room"


StreamerMessage = (
    CreateRoom | JoinCode | Watch | Start | Pause | Resume | NextPuzzle | Extend | Kick | Ban | Unban
    | SetModerator | RoomSettings | Approve | Reject | RemoveExplanation | CloseRoom
)  # fmt: skip
STREAMER_MESSAGES: tuple[type, ...] = (
    CreateRoom, JoinCode, Watch, Start, Pause, Resume, NextPuzzle, Extend, Kick, Ban, Unban,
    SetModerator, RoomSettings, Approve, Reject, RemoveExplanation, CloseRoom,
)  # fmt: skip

# Events only streamer rooms send (docs/protocol.md, "Streamer rooms").
STREAMER_EVENTS = frozenset(
    {
        "room_created", "streamer", "host_state", "tally", "timer", "submitted", "explanation_removed",
        "explanation_rejected", "kicked", "voted", "room_closed",
    }
)  # fmt: skip

FILTERS = ", ".join(m.value for m in FilterMode)


def check(msg: StreamerMessage, max_cap: int = 1_000) -> tuple[str, str] | None:
    """Value checks beyond the field types: ("bad_field", why) or None."""
    cap = getattr(msg, "player_cap", None)
    if cap is not None and not 1 <= cap <= max_cap:
        return "bad_field", f"player_cap: 1 to {max_cap}"
    mode = getattr(msg, "filter", None)
    if mode is not None and mode not in {m.value for m in FilterMode}:
        return "bad_field", f"filter: one of {FILTERS}"
    if isinstance(msg, CreateRoom) and msg.kind not in (None, "streamer"):
        return "bad_field", 'kind: "streamer" is the only kind of room a host creates'
    if isinstance(msg, CreateRoom) and msg.campaign is not None and not campaign_name_ok(msg.campaign):
        return "bad_field", CAMPAIGN_FIELD
    if isinstance(msg, JoinCode) and normalize(msg.code) is None:
        return "bad_field", "code: the room's four letters"
    if isinstance(msg, Watch) and not OVERLAY_RE.match(msg.overlay):
        return "bad_field", "overlay: the overlay token from the host console"
    if isinstance(msg, Extend) and not 1 <= msg.seconds <= 3_600:
        return "bad_field", "seconds: 1 to 3600"
    return None
