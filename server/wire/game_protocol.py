"""Round-flow and private-game messages of the wire protocol, parsed by server.wire.protocol.parse.

``pass`` works in every puzzle room (a player is done with the round); the others run a private
room (rooms/private_game.py): its creator creates it, sets it up in the lobby, starts the game
and may skip the rest of a result's reading time. Value ranges are the rules' to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class PassRound:
    """Done with this round without (more) submitting or voting; not a vote."""

    type: ClassVar[str] = "pass"


@dataclass(frozen=True)
class CreatePrivate:
    type: ClassVar[str] = "create_private"
    campaign: str | None = None  # an installed campaign's name; None: the default campaign


@dataclass(frozen=True)
class SetupGame:
    type: ClassVar[str] = "setup_game"
    round_s: float | None = None
    reveal_s: float | None = None
    rounds: int | None = None


@dataclass(frozen=True)
class StartGame:
    type: ClassVar[str] = "start_game"


@dataclass(frozen=True)
class SkipReveal:
    type: ClassVar[str] = "skip_reveal"


GameMessage = PassRound | CreatePrivate | SetupGame | StartGame | SkipReveal
GAME_MESSAGES: tuple[type, ...] = (PassRound, CreatePrivate, SetupGame, StartGame, SkipReveal)

# Events of the round flow and of private games (docs/protocol.md, "Round flow").
GAME_EVENTS = frozenset({"passed", "private_room", "game_setup", "game_start", "reveal_skipped", "game_end"})
