"""Abuse on a real server with real websocket clients: vote stuffing by guest farms, acting
for another player, host controls from non-hosts, oversized frames, script in explanations.

(Script in an explanation rendering as text in the browser is checked end to end by the
Playwright test tests/browser/test_round.py; here we check the server passes it through as
plain data and never alters or interprets it.)
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from sqlmodel import select

from config.settings import Settings
from server.api.sessions import make_token
from server.wire import protocol as p
from store.db import Database
from store.models import Explanation, Vote
from tests.server.conftest import Client, Clock, LiveServer

GUEST_BUDGET = 6


@pytest.fixture
def guarded_server(hub_settings: Settings, campaign: list[int]) -> Iterator[LiveServer]:
    server = LiveServer(
        hub_settings.model_copy(update={"guest_sessions_per_ip_per_min": GUEST_BUDGET}), Clock()
    ).start()
    yield server
    server.stop()


async def test_a_guest_farm_from_one_address_cannot_stuff_votes(
    guarded_server: LiveServer, db: Database
) -> None:
    author = await Client.connect(guarded_server.ws_url)
    author_token = (await author.expect("welcome"))["token"]
    await author.join_round("stuffed")
    await author.send({"type": "submit", "text": "fires on cats"})
    eid = (await author.expect("explanation"))["explanation"]["id"]

    voted, refused = 0, []
    for _ in range(GUEST_BUDGET + 4):  # the same script, a new guest each time
        sock = await Client.connect(guarded_server.ws_url)
        event = await sock._recv(10)  # the first answer: welcome, or the refusal
        if event["type"] == "error":
            refused.append(await sock.refusal())
            continue
        assert event["type"] == "welcome"
        await sock.join_round("stuffed")
        await sock.send({"type": "vote", "explanation_id": eid})
        await sock.expect("vote", explanation_id=eid)
        voted += 1
        await sock.close()

    assert voted == GUEST_BUDGET - 1  # the author was the budget's first guest
    assert refused == [(p.ERR_FLOOD, p.CLOSE_POLICY_VIOLATION)] * 5
    with db.session() as s:
        assert len(list(s.exec(select(Vote).where(Vote.explanation_id == eid)))) == voted
    # The HTTP way to a guest session shares the budget; players with a token are never counted.
    response = httpx.post(f"{guarded_server.http_url}/api/session", json={})
    assert response.status_code == 429 and "flood" in response.text
    back = await Client.connect(guarded_server.ws_url, token=author_token)
    assert (await back.expect("welcome"))["token"] == author_token
    await back.close()
    await author.close()


async def test_nobody_acts_for_another_player(
    live_server: LiveServer, hub_settings: Settings, db: Database
) -> None:
    alice, mallory = await Client.connect(live_server.ws_url), await Client.connect(live_server.ws_url)
    alice_id = (await alice.expect("welcome"))["player"]["id"]
    mallory_welcome = await mallory.expect("welcome")
    mallory_id, mallory_token = mallory_welcome["player"]["id"], mallory_welcome["token"]
    await alice.join_round("imp")
    await mallory.join_round("imp")
    await alice.send({"type": "submit", "text": "fires on cats"})
    eid = (await alice.expect("explanation"))["explanation"]["id"]

    # A player id inside a message is ignored: the connection's own player acts.
    await mallory.send({"type": "vote", "explanation_id": eid, "player_id": alice_id})
    assert (await mallory.expect("vote"))["player_id"] == mallory_id
    await mallory.send({"type": "submit", "text": "in alice's name", "player_id": alice_id})
    written = (await mallory.expect("explanation", where=lambda e: e["explanation"]["id"] != eid))[
        "explanation"
    ]
    assert written["player_id"] == mallory_id

    # Tokens are signed: a payload changed to name alice, or one signed with another key, is refused.
    body, signature = mallory_token.split(".")
    payload = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["p"] = alice_id
    tampered = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode() + "." + signature
    for token in (
        tampered,
        make_token("some-other-server-key-of-enough-length", alice_id, "forged", time.time() + 3600),
    ):
        forged = await Client.connect(live_server.ws_url, token=token)
        assert await forged.refusal() == (p.ERR_BAD_TOKEN, p.CLOSE_BAD_TOKEN)
    with db.session() as s:
        votes = list(s.exec(select(Vote).where(Vote.explanation_id == eid)))
        authors = {e.id: e.player_id for e in s.exec(select(Explanation))}
    assert [v.player_id for v in votes] == [mallory_id]
    assert authors == {eid: alice_id, written["id"]: mallory_id}
    await alice.close()
    await mallory.close()


async def test_host_controls_in_a_plain_room_do_nothing(live_server: LiveServer) -> None:
    """A puzzle room has no host: every host command is refused there (the streamer tests cover
    non-hosts in streamer rooms)."""
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    snapshot = await client.join_round("plain")
    for command in (
        {"type": "start"},
        {"type": "pause"},
        {"type": "next_puzzle"},
        {"type": "extend", "seconds": 300},
        {"type": "kick", "player_id": 1},
        {"type": "ban", "player_id": 1},
        {"type": "close_room"},
        {"type": "room_settings", "locked": True},
    ):
        await client.send(command)
        error = await client.expect("error", ref=command["type"])
        assert error["code"] in {p.ERR_NOT_STREAMER_ROOM, p.ERR_NOT_HOST}, (command, error)
    await client.send({"type": "resync"})
    after = await client.expect("room")
    assert after["phase"] == "round" and after["deadline"] == snapshot["deadline"]  # the clock is untouched
    await client.close()


async def test_oversized_frames_are_refused_and_nothing_is_stored(
    live_server: LiveServer, db: Database
) -> None:
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    await client.join_round("big")
    big = "z" * (20 * 1024)  # over max_frame_bytes (16 KiB)
    await client.send(orjson.dumps({"type": "submit", "text": big}).decode())
    assert (await client.expect("error"))["code"] == p.ERR_TOO_LARGE
    await client.send({"type": "submit", "text": "a" * 281})  # small frame, text over the limit
    assert (await client.expect("error", ref="submit"))["code"] == p.ERR_TOO_LONG
    with db.session() as s:
        assert list(s.exec(select(Explanation))) == []
    await client.send({"type": "ping", "t": 7})  # two mistakes are forgiven: the connection stays
    assert (await client.expect("pong"))["t"] == 7
    # A frame larger than the per-connection byte budget is a flood: refused and closed.
    await client.send(orjson.dumps({"type": "submit", "text": "z" * 256 * 1024}).decode())
    assert await client.refusal() == (p.ERR_FLOOD, p.CLOSE_POLICY_VIOLATION)
    with db.session() as s:
        assert list(s.exec(select(Explanation))) == []


async def test_script_in_an_explanation_is_passed_through_as_plain_text(live_server: LiveServer) -> None:
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    writer, reader = await Client.connect(live_server.ws_url), await Client.connect(live_server.ws_url)
    await writer.expect("welcome")
    await reader.expect("welcome")
    await writer.join_round("xss")
    await reader.join_round("xss")
    await writer.send({"type": "submit", "text": script})
    assert (await reader.expect("explanation"))["explanation"]["text"] == script
    await writer.close()
    await reader.close()
