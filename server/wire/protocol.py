"""The wire protocol: every message type, once, and the one function that parses a frame.

Clients send JSON text frames or msgpack binary frames (chosen at connect with
``/ws?format=json|msgpack``; the server answers in that format and accepts either). A frame
is an object with a ``"type"``. ``parse`` turns a frame into one of the typed client messages
below or into a ``ProtocolError`` (never an exception), so a bad frame costs the sender one
``error`` event and nothing else. Server events are plain dicts built by the room code; their
names are listed in ``SERVER_EVENTS`` and documented with examples in docs/protocol.md.

Close codes and limits here are mirrored in client/js/protocol.js; keep the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import msgpack
import orjson

from config.errors import COPIED_MESSAGE as COPIED_MESSAGE
from config.errors import ERR_ALREADY_SUBMITTED as ERR_ALREADY_SUBMITTED
from config.errors import ERR_AUDIENCE as ERR_AUDIENCE
from config.errors import ERR_BAD_FIELD as ERR_BAD_FIELD
from config.errors import ERR_BAD_FRAME as ERR_BAD_FRAME
from config.errors import ERR_BAD_TOKEN as ERR_BAD_TOKEN
from config.errors import ERR_BANNED as ERR_BANNED
from config.errors import ERR_BUSY_ELSEWHERE as ERR_BUSY_ELSEWHERE
from config.errors import ERR_COPIED as ERR_COPIED
from config.errors import ERR_DAILY_PLAYED as ERR_DAILY_PLAYED
from config.errors import ERR_DOUBLE_VOTE as ERR_DOUBLE_VOTE
from config.errors import ERR_FINISHED as ERR_FINISHED
from config.errors import ERR_FLOOD as ERR_FLOOD
from config.errors import ERR_INTERNAL as ERR_INTERNAL
from config.errors import ERR_MISSING_FIELD as ERR_MISSING_FIELD
from config.errors import ERR_NO_VOTES as ERR_NO_VOTES
from config.errors import ERR_NOT_CREATOR as ERR_NOT_CREATOR
from config.errors import ERR_NOT_FOUND as ERR_NOT_FOUND
from config.errors import ERR_NOT_HOST as ERR_NOT_HOST
from config.errors import ERR_NOT_IN_MATCH as ERR_NOT_IN_MATCH
from config.errors import ERR_NOT_IN_ROOM as ERR_NOT_IN_ROOM
from config.errors import ERR_NOT_MODERATOR as ERR_NOT_MODERATOR
from config.errors import ERR_NOT_PRIVATE as ERR_NOT_PRIVATE
from config.errors import ERR_NOT_STREAMER_ROOM as ERR_NOT_STREAMER_ROOM
from config.errors import ERR_OTHER_TEAM as ERR_OTHER_TEAM
from config.errors import ERR_OWN_VOTE as ERR_OWN_VOTE
from config.errors import ERR_PAUSED as ERR_PAUSED
from config.errors import ERR_PRIVATE_ROOM as ERR_PRIVATE_ROOM
from config.errors import ERR_PROFANITY as ERR_PROFANITY
from config.errors import ERR_QUEST_CLOSED as ERR_QUEST_CLOSED
from config.errors import ERR_STALE_PUZZLE as ERR_STALE_PUZZLE
from config.errors import ERR_TOO_LARGE as ERR_TOO_LARGE
from config.errors import ERR_TOO_LONG as ERR_TOO_LONG
from config.errors import ERR_UNAVAILABLE as ERR_UNAVAILABLE
from config.errors import ERR_UNKNOWN_TYPE as ERR_UNKNOWN_TYPE
from config.errors import ERR_UNSUPPORTED_VERSION as ERR_UNSUPPORTED_VERSION
from config.errors import ERR_WRONG_PHASE as ERR_WRONG_PHASE

# Re-exported: the hub and the rules raise with p.ERR_*; the one table is config/errors.py.
from config.errors import ERRORS as ERRORS
from config.errors import UNAVAILABLE_MESSAGE as UNAVAILABLE_MESSAGE
from server.wire.game_protocol import GAME_EVENTS, GAME_MESSAGES, CreatePrivate, GameMessage
from server.wire.streamer_protocol import (
    CAMPAIGN_FIELD,
    STREAMER_EVENTS,
    STREAMER_MESSAGES,
    StreamerMessage,
    campaign_name_ok,
)
from server.wire.streamer_protocol import check as check_streamer
from server.wire.text import clean_text
from store.countries import iso_country

PROTOCOL_VERSION = 1

# -- close codes (mirrored in client/js/protocol.js) ---------------------------------------
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY_VIOLATION = 1008  # floods, too many bad frames
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013  # the database cannot be reached: reconnect in a moment
CLOSE_HEARTBEAT_TIMEOUT = 4000  # nothing heard from the client for two heartbeats
CLOSE_BAD_TOKEN = 4001  # the session token is forged or names no player: start a new session
CLOSE_UNSUPPORTED_VERSION = 4002
CLOSE_SLOW_CONSUMER = 4003  # the client does not read its events fast enough

# After this many malformed frames on one connection the server closes with 1008: one
# mistake is forgiven, a stream of garbage is not.
MAX_BAD_FRAMES = 5

ROOM_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

# Error codes carried by ``error`` events: the table is config/errors.py (imported above).


@dataclass(frozen=True)
class Limits:
    """Size limits the parser enforces; built from Settings by the hub."""

    max_frame_bytes: int = 16_384
    max_text_chars: int = 2_000
    max_explanation_chars: int = 280
    max_name_chars: int = 32

    def to_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ProtocolError:
    code: str
    message: str
    # The type of the message that failed, when known, so a client can match the answer.
    ref: str | None = None

    def to_event(self) -> dict[str, Any]:
        return error_event(self.code, self.message, self.ref)


# -- client -> server messages -------------------------------------------------------------
# Each class names its wire ``type``; its fields (and their types) are the payload. Optional
# fields have defaults. ``_checks`` adds per-field validation beyond the type.


@dataclass(frozen=True)
class Join:
    type: ClassVar[str] = "join"
    room: str
    since: int | None = None


@dataclass(frozen=True)
class Leave:
    type: ClassVar[str] = "leave"


@dataclass(frozen=True)
class Submit:
    type: ClassVar[str] = "submit"
    text: str
    neuron_id: int | None = None  # the neuron the text was written for


@dataclass(frozen=True)
class Vote:
    type: ClassVar[str] = "vote"
    explanation_id: int


@dataclass(frozen=True)
class TestText:
    type: ClassVar[str] = "test_text"
    __test__: ClassVar[bool] = False  # not a pytest test class
    text: str
    request_id: str | None = None


@dataclass(frozen=True)
class ShareActivations:
    type: ClassVar[str] = "share_activations"
    request_id: str


@dataclass(frozen=True)
class Rename:
    type: ClassVar[str] = "rename"
    name: str
    country: str | None = None


@dataclass(frozen=True)
class Ping:
    type: ClassVar[str] = "ping"
    t: float | None = None


@dataclass(frozen=True)
class Pong:
    type: ClassVar[str] = "pong"
    t: float | None = None


@dataclass(frozen=True)
class Resync:
    type: ClassVar[str] = "resync"


ClientMessage = (
    Join | Leave | Submit | Vote | TestText | ShareActivations | Rename | Ping | Pong | Resync
    | StreamerMessage | GameMessage
)  # fmt: skip
CLIENT_MESSAGES: dict[str, type] = {
    cls.type: cls
    for cls in (Join, Leave, Submit, Vote, TestText, ShareActivations, Rename, Ping, Pong, Resync)
}
CLIENT_MESSAGES.update({cls.type: cls for cls in STREAMER_MESSAGES})
CLIENT_MESSAGES.update({cls.type: cls for cls in GAME_MESSAGES})

# Every event type the server sends; docs/protocol.md has one example of each.
SERVER_EVENTS = frozenset(
    {
        "welcome", "error", "ping", "pong", "room", "members", "left", "renamed", "lobby", "puzzle",
        "explanation", "vote", "reveal", "score_progress", "score", "round_end", "points", "round_result",
        "test_queued", "activations", "shared_activations", "notice", "crowd", "quest", "daily_played",
        "team_match", "team_scores", "match_result",
    }
) | STREAMER_EVENTS | GAME_EVENTS  # fmt: skip

_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


_ARTICLE = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false"}


def _field_kind(annotation: str) -> tuple[str, bool]:
    """('str'|'int'|'float', optional?) from an annotation string like 'int | None'."""
    optional = annotation.endswith("| None")
    return annotation.replace("| None", "").strip(), optional


def _check_lengths(msg: ClientMessage, limits: Limits) -> ProtocolError | None:
    def too_long(name: str, value: str, limit: int) -> ProtocolError | None:
        if len(value) > limit:
            return ProtocolError(
                ERR_TOO_LONG, f"{name} is {len(value)} characters, at most {limit}", msg.type
            )
        return None

    if isinstance(msg, Submit):
        return too_long("explanation", msg.text, limits.max_explanation_chars)
    if isinstance(msg, TestText):
        if msg.request_id is not None and not REQUEST_ID_RE.match(msg.request_id):
            return ProtocolError(ERR_BAD_FIELD, "request_id: 1-64 of A-Z a-z 0-9 _ . : -", msg.type)
        return too_long("text", msg.text, limits.max_text_chars)
    if isinstance(msg, Rename):
        if msg.country is not None and iso_country(msg.country) != msg.country:
            return ProtocolError(ERR_BAD_FIELD, "country: an ISO 3166 code in capitals, e.g. DE", msg.type)
        return too_long("name", msg.name, limits.max_name_chars)
    if isinstance(msg, CreatePrivate) and msg.campaign is not None and not campaign_name_ok(msg.campaign):
        return ProtocolError(ERR_BAD_FIELD, CAMPAIGN_FIELD, msg.type)
    if isinstance(msg, Join) and not ROOM_ID_RE.match(msg.room):
        return ProtocolError(ERR_BAD_FIELD, "room: 1-64 of A-Z a-z 0-9 _ -", msg.type)
    if isinstance(msg, STREAMER_MESSAGES):
        problem = check_streamer(msg)
        return ProtocolError(*problem, msg.type) if problem else None
    return None


def decode_frame(frame: str | bytes, limits: Limits) -> dict[str, Any] | ProtocolError:
    """Text frames are JSON, binary frames msgpack; either must hold an object."""
    size = len(frame.encode() if isinstance(frame, str) else frame)
    if size > limits.max_frame_bytes:
        return ProtocolError(ERR_TOO_LARGE, f"frame is {size} bytes, at most {limits.max_frame_bytes}")
    try:
        data = orjson.loads(frame) if isinstance(frame, str) else msgpack.unpackb(frame, raw=False)
    except Exception:
        kind = "JSON" if isinstance(frame, str) else "msgpack"
        return ProtocolError(ERR_BAD_FRAME, f"frame is not valid {kind}")
    if not isinstance(data, dict):
        return ProtocolError(ERR_BAD_FRAME, 'a frame is an object with a "type"')
    return data


def parse(frame: str | bytes, limits: Limits) -> ClientMessage | ProtocolError:
    """The one parse function: a frame becomes a typed message or a ProtocolError."""
    data = decode_frame(frame, limits)
    if isinstance(data, ProtocolError):
        return data
    kind = data.get("type")
    if not isinstance(kind, str):
        return ProtocolError(ERR_BAD_FRAME, 'a frame is an object with a string "type"')
    cls = CLIENT_MESSAGES.get(kind)
    if cls is None:
        known = ", ".join(sorted(CLIENT_MESSAGES))
        return ProtocolError(ERR_UNKNOWN_TYPE, f"unknown type {kind[:40]!r}; known: {known}", kind[:40])
    values: dict[str, Any] = {}
    for f in fields(cls):
        base, optional = _field_kind(str(f.type))
        value = data.get(f.name)
        if value is None:
            if optional:
                continue
            return ProtocolError(ERR_MISSING_FIELD, f"{kind} needs the field {f.name!r} ({base})", kind)
        if (isinstance(value, bool) != (base == "bool")) or not isinstance(value, _FIELD_TYPES[base]):
            return ProtocolError(ERR_BAD_FIELD, f"{kind}.{f.name} must be {_ARTICLE[base]}", kind)
        if base == "int" and not 0 <= value < 2**53:  # ids and versions; JS-safe integers
            return ProtocolError(ERR_BAD_FIELD, f"{kind}.{f.name} must be between 0 and 2**53", kind)
        values[f.name] = float(value) if base == "float" else value
    if cls is Submit:  # NFC, no control or bidi characters (server/wire/text.py)
        values["text"] = clean_text(values["text"])
    msg: ClientMessage = cls(**values)
    return _check_lengths(msg, limits) or msg


# -- server -> client ----------------------------------------------------------------------
def error_event(code: str, message: str, ref: str | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref:
        event["ref"] = ref
    event.update(extra)
    return event


def encode(event: dict[str, Any], fmt: str) -> str | bytes:
    """One event as a frame in the connection's format ("json" text or "msgpack" binary)."""
    if fmt == "msgpack":
        return msgpack.packb(event, use_bin_type=True)
    return orjson.dumps(event).decode()


class Broadcast:
    """One event on its way to many sockets: encoded once per format, when first asked.

    A room event reaches every member's socket; encoding it per socket cost more than the
    send. ``json_frame`` is the event's JSON as it came over pub/sub (the log's script wrote it).
    """

    __slots__ = ("_frames", "event")

    def __init__(self, event: dict[str, Any], json_frame: str | None = None) -> None:
        self.event = event
        self._frames: dict[str, str | bytes] = {} if json_frame is None else {"json": json_frame}

    def frame(self, fmt: str) -> str | bytes:
        found = self._frames.get(fmt)
        if found is None:
            found = self._frames[fmt] = encode(self.event, fmt)
        return found

    def wire(self, fmt: str, framing: Callable[[str | bytes], bytes]) -> bytes:
        """The frame in ``fmt`` wrapped by ``framing`` (the websocket frame's bytes,
        server/hub/raw_writes.py), once per format for every socket."""
        key = "wire:" + fmt
        found = self._frames.get(key)
        if found is None:
            found = self._frames[key] = framing(self.frame(fmt))
        return found  # type: ignore[return-value]


FORMATS = ("json", "msgpack")
