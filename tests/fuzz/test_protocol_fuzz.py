"""Random and malformed frames against server.wire.protocol.parse: it never raises, and every frame
becomes either a typed client message or a ProtocolError carrying a known error code."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import msgpack
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from server.wire import protocol as p

LIMITS = p.Limits()
ERROR_CODES = {value for name, value in vars(p).items() if name.startswith("ERR_")}
MESSAGE_TYPES = tuple(p.CLIENT_MESSAGES)

# JSON-ish junk: every scalar the wire can carry, including numbers no field accepts.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(sorted({f.name for cls in p.CLIENT_MESSAGES.values() for f in fields(cls)}))
# Frames that look almost right: a known type, real field names, values of any kind.
near_miss = st.fixed_dictionaries(
    {"type": st.sampled_from(MESSAGE_TYPES) | junk},
    optional={"room": junk, "text": junk, "explanation_id": junk, "since": junk, "name": junk},
).flatmap(lambda d: st.dictionaries(field_names, junk, max_size=3).map(lambda extra: {**extra, **d}))


def check(result: Any) -> None:
    if isinstance(result, p.ProtocolError):
        assert result.code in ERROR_CODES, result
        assert result.message
        event = result.to_event()
        assert event["type"] == "error" and event["code"] == result.code
        p.encode(event, "json")  # the answer itself can always be sent
        return
    assert type(result).type in p.CLIENT_MESSAGES, result
    for f in fields(result):
        value = getattr(result, f.name)
        if isinstance(value, int) and not isinstance(value, bool):
            assert 0 <= value < 2**53  # ids and versions stay JS-safe


def _json_text(value: Any) -> str | None:
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # NaN is fine, ints over 64 bits are not
        return None


def _msgpack(value: Any) -> bytes | None:
    try:
        return msgpack.packb(value, use_bin_type=True)
    except (OverflowError, TypeError, ValueError):
        return None


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(frame: bytes) -> None:
    check(p.parse(frame, LIMITS))


@given(st.text(max_size=400))
def test_random_text_never_raises(frame: str) -> None:
    check(p.parse(frame, LIMITS))


@given(junk)
def test_any_json_value_never_raises(value: Any) -> None:
    text = _json_text(value)
    if text is not None:
        check(p.parse(text, LIMITS))
    packed = _msgpack(value)
    if packed is not None:
        check(p.parse(packed, LIMITS))


@given(near_miss)
@settings(max_examples=400)
def test_near_miss_messages_are_typed_or_refused(message: dict[str, Any]) -> None:
    for frame in (_json_text(message), _msgpack(message)):
        if frame is None:
            continue
        result = p.parse(frame, LIMITS)
        check(result)
        if not isinstance(result, p.ProtocolError):
            assert result.type == message["type"]


@given(st.sampled_from(MESSAGE_TYPES), st.integers(min_value=LIMITS.max_frame_bytes + 1, max_value=100_000))
@settings(max_examples=30)
def test_oversized_frames_are_refused_before_decoding(kind: str, size: int) -> None:
    frame = orjson.dumps({"type": kind, "text": "x" * size}).decode()
    result = p.parse(frame, LIMITS)
    assert isinstance(result, p.ProtocolError) and result.code == p.ERR_TOO_LARGE
    result = p.parse(b"\x81\xa4type" + b"\xff" * size, LIMITS)  # msgpack junk of that size too
    assert isinstance(result, p.ProtocolError) and result.code == p.ERR_TOO_LARGE


@given(st.sampled_from(["score", "points", "reveal", "round_end", "explanation", "vote_as", "award"]), junk)
@settings(max_examples=50)
def test_clients_have_no_message_that_makes_scores_or_points(kind: str, payload: Any) -> None:
    """Scores and points come only from workers and the rules: no client type carries them."""
    frame = orjson.dumps({"type": kind, "score": 1.0, "player_id": 1, "payload": _json_text(payload)})
    result = p.parse(frame.decode(), LIMITS)
    assert isinstance(result, p.ProtocolError) and result.code == p.ERR_UNKNOWN_TYPE


@given(st.integers(min_value=0, max_value=2**53 - 1), st.integers(-(2**60), 2**60) | st.text(max_size=10))
def test_a_vote_names_only_an_explanation_never_a_voter(explanation_id: int, voter: Any) -> None:
    """A player id smuggled into a vote is ignored: the connection's own player votes."""
    frame = orjson.dumps({"type": "vote", "explanation_id": explanation_id, "player_id": voter})
    result = p.parse(frame.decode(), LIMITS)
    assert isinstance(result, p.Vote) and result.explanation_id == explanation_id
    assert not hasattr(result, "player_id")
