"""The wire protocol module: one parse function, both encodings, errors instead of exceptions."""

from __future__ import annotations

import re
from pathlib import Path

import msgpack
import orjson
from hypothesis import given
from hypothesis import strategies as st

from config import errors
from server.wire import protocol as p

LIMITS = p.Limits(max_frame_bytes=1024, max_text_chars=100, max_explanation_chars=50, max_name_chars=10)
ROOT = Path(__file__).resolve().parents[2]


def test_json_and_msgpack_parse_to_the_same_message() -> None:
    body = {"type": "vote", "explanation_id": 4}
    assert p.parse(orjson.dumps(body).decode(), LIMITS) == p.parse(msgpack.packb(body), LIMITS) == p.Vote(4)
    assert p.parse('{"type": "join", "room": "a-1", "since": 3}', LIMITS) == p.Join("a-1", 3)
    assert p.parse('{"type": "test_text", "text": "hi"}', LIMITS) == p.TestText("hi", None)


def test_each_kind_of_bad_frame_has_its_code() -> None:
    cases = {
        "[]": p.ERR_BAD_FRAME,
        '{"no": "type"}': p.ERR_BAD_FRAME,
        '{"type": "fly"}': p.ERR_UNKNOWN_TYPE,
        '{"type": "submit"}': p.ERR_MISSING_FIELD,
        '{"type": "vote", "explanation_id": true}': p.ERR_BAD_FIELD,
        '{"type": "vote", "explanation_id": 1.5}': p.ERR_BAD_FIELD,
        '{"type": "vote", "explanation_id": -1}': p.ERR_BAD_FIELD,
        '{"type": "vote", "explanation_id": 9007199254740993}': p.ERR_BAD_FIELD,
        '{"type": "join", "room": "no spaces"}': p.ERR_BAD_FIELD,
        '{"type": "submit", "text": "' + "x" * 51 + '"}': p.ERR_TOO_LONG,
        '{"type": "rename", "name": "' + "x" * 11 + '"}': p.ERR_TOO_LONG,
        '{"type": "rename", "name": "a", "country": "usa"}': p.ERR_BAD_FIELD,
        '{"type": "ping", "pad": "' + "x" * 1100 + '"}': p.ERR_TOO_LARGE,
    }
    for frame, code in cases.items():
        result = p.parse(frame, LIMITS)
        assert isinstance(result, p.ProtocolError) and result.code == code, frame
        event = result.to_event()
        assert event["type"] == "error" and event["message"]


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_no_frame_makes_parse_raise(frame: str | bytes) -> None:
    result = p.parse(frame, LIMITS)
    assert isinstance(result, p.ProtocolError) or type(result) in p.CLIENT_MESSAGES.values()


@given(
    st.dictionaries(
        st.sampled_from(["type", "room", "text", "explanation_id", "since", "name"]),
        st.one_of(
            st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=20), st.booleans(), st.floats()
        ),
    )
)
def test_no_object_makes_parse_raise(body: dict[str, object]) -> None:
    result = p.parse(msgpack.packb(body), LIMITS)
    assert isinstance(result, p.ProtocolError) or type(result) in p.CLIENT_MESSAGES.values()


def test_encode_matches_the_format() -> None:
    event = {"type": "pong", "t": 1.0}
    assert orjson.loads(p.encode(event, "json")) == event
    assert msgpack.unpackb(p.encode(event, "msgpack")) == event


def test_client_constants_mirror_the_server() -> None:
    js = (ROOT / "client" / "js" / "protocol.js").read_text()
    for name in dir(p):
        if name.startswith(("CLOSE_", "ERR_")) or name in ("PROTOCOL_VERSION", "MAX_BAD_FRAMES"):
            value = getattr(p, name)
            literal = f'"{value}"' if isinstance(value, str) else str(value)
            assert re.search(rf"\b{name}: {re.escape(literal)},", js), (
                f"{name} missing or different in protocol.js"
            )


def test_client_error_table_is_the_server_table() -> None:
    """Both ways: no code missing in the client, none there that the server does not send."""
    js = (ROOT / "client" / "js" / "protocol.js").read_text()
    client = dict(re.findall(r'\b(ERR_[A-Z_]+): "([a-z_]+)",', js))
    server = {name: getattr(errors, name) for name in dir(errors) if name.startswith("ERR_")}
    assert client == server
    assert set(server.values()) == set(errors.ERRORS) and len(errors.ERRORS) == len(server)


def test_docs_show_every_message() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    for kind in [*p.CLIENT_MESSAGES, *p.SERVER_EVENTS]:
        assert f'"type": "{kind}"' in doc, f"docs/protocol.md has no example of {kind}"
