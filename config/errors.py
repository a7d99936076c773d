"""Every code an ``error`` event can carry, in one table: the code and what it means.

The one module that spells them (as config/keys.py spells Redis keys): the rules (rooms/), the
live room services and the wire protocol (server/wire/protocol.py re-exports the ``ERR_*``
names) all raise with these constants, and the browser's copy in client/js/protocol.js is
checked against ``ERRORS`` by tests/server/test_protocol.py. The HTTP API's codes are in its
OpenAPI document (server/api/openapi.py).
"""

from __future__ import annotations

ERRORS: dict[str, str] = {}


def _code(code: str, meaning: str) -> str:
    ERRORS[code] = meaning
    return code


# -- frames and connections ------------------------------------------------------------------
ERR_BAD_FRAME = _code("bad_frame", "not JSON / msgpack, or not an object")
ERR_UNKNOWN_TYPE = _code("unknown_type", "a message type this protocol version does not have")
ERR_MISSING_FIELD = _code("missing_field", "a required field is absent")
ERR_BAD_FIELD = _code("bad_field", "a field has the wrong type or value")
ERR_TOO_LARGE = _code("too_large", "a frame over max_frame_bytes")
ERR_TOO_LONG = _code("too_long", "a text over its character limit")
ERR_FLOOD = _code("flood", "too many messages or new guest sessions")
ERR_BAD_TOKEN = _code("bad_token", "the session token is unknown")
ERR_UNSUPPORTED_VERSION = _code("unsupported_version", "the server does not speak that protocol")
ERR_INTERNAL = _code("internal", "the server failed on this message")
ERR_UNAVAILABLE = _code("unavailable", "the database cannot be reached: try again in a moment")
# -- rooms and moves -------------------------------------------------------------------------
ERR_NOT_IN_ROOM = _code("not_in_room", "join a room first")
ERR_WRONG_PHASE = _code("wrong_phase", "not possible in the room's current phase")
ERR_ALREADY_SUBMITTED = _code("already_submitted", "one explanation per player per round")
ERR_STALE_PUZZLE = _code("stale_puzzle", "the text was written for a neuron the room has left")
ERR_DOUBLE_VOTE = _code("double_vote", "already your vote (one vote per round, once per explanation)")
ERR_OWN_VOTE = _code("own_vote", "nobody votes for their own explanation")
ERR_BUSY_ELSEWHERE = _code(
    "busy_elsewhere", "points come from one room at a time: your round elsewhere is open"
)
ERR_COPIED = _code("copied", "that is an explanation already written for this unit: say it in your own words")
# What a player reads when refused as a copy (the same words from the room and the streamer room).
COPIED_MESSAGE = "Someone already explained it in those words: say what you see in your own."
ERR_NOT_FOUND = _code("not_found", "no such room, explanation, code or answer")
# -- a worker's answer to test_text (the error carries the request_id) -------------------------
ERR_BAD_NEURON = _code("bad_neuron", "the room's campaign or neuron cannot be found")
ERR_BAD_TEXT = _code("bad_text", "the text cannot be run through the model")
# -- room kinds ------------------------------------------------------------------------------
ERR_QUEST_CLOSED = _code("quest_closed", "the quest room is not the current quest")
ERR_NO_VOTES = _code("no_votes", "quest rounds have no votes: the score alone decides")
ERR_DAILY_PLAYED = _code("daily_played", "today's daily is played once; a new one opens at midnight UTC")
ERR_NOT_IN_MATCH = _code("not_in_match", "a team match admits members of its teams only")
ERR_OTHER_TEAM = _code("other_team", "already playing this match for another team")
ERR_FINISHED = _code("finished", "the match is over")
ERR_NOT_HOST = _code("not_host", "only the streamer room's host may do that")
ERR_NOT_MODERATOR = _code("not_moderator", "only the host or a moderator may do that")
ERR_BANNED = _code("banned", "the host banned this player or browser")
ERR_PRIVATE_ROOM = _code("private_room", "a private room is joined with its code")
ERR_PAUSED = _code("paused", "the host paused the room")
ERR_PROFANITY = _code("profanity", "a family-friendly room refuses these words")
ERR_AUDIENCE = _code("audience", "the audience votes; it does not submit or command")
ERR_NOT_STREAMER_ROOM = _code("not_streamer_room", "a streamer command outside a streamer room")
ERR_NOT_CREATOR = _code("not_creator", "only a private room's creator may set up, start or skip")
ERR_NOT_PRIVATE = _code("not_private", "a private-game command outside a private room")

UNAVAILABLE_MESSAGE = "the database cannot be reached right now; try again shortly"
