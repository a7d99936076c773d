"""HTTP: /healthz and sessions (guests, accounts that keep points). Advanced mode over /ws."""

from __future__ import annotations

import asyncio
import time

import httpx
import redis
from rq import Queue

from config.settings import Settings
from server.api.sessions import Claims, check_password, make_token, read_token
from store import eventlog
from store.db import Database
from store.models import Player, PointEvent
from tests.server.conftest import Client, LiveServer


def test_healthz_reports_database_redis_and_queues(live_server: LiveServer) -> None:
    answer = httpx.get(f"{live_server.http_url}/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["database"] is True and body["redis"] is True
    assert set(body["queues"]) == {"model", "warm", "default"}


def test_the_index_page_and_the_client_script_are_served(live_server: LiveServer) -> None:
    assert "NeuronQuest" in httpx.get(live_server.http_url + "/").text
    assert "CLOSE_POLICY_VIOLATION" in httpx.get(live_server.http_url + "/static/js/protocol.js").text


def test_every_page_has_the_game_icon_and_favicon_ico_serves_it(live_server: LiveServer) -> None:
    """Pages that name no icon (the JSON API) make browsers ask /favicon.ico: a 404 in the console."""
    icon = httpx.get(live_server.http_url + "/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg")
    assert icon.text == httpx.get(live_server.http_url + "/static/icon.svg").text
    for page in ("/", *(f"/static/{name}.html" for name in ("host", "neurons", "neuron", "overlay", "404"))):
        assert '<link rel="icon" href="/static/icon.svg"' in httpx.get(live_server.http_url + page).text, page


def test_an_unknown_address_gets_a_page_with_the_way_back_and_the_api_a_json_error(
    live_server: LiveServer,
) -> None:
    """A mistyped link (/neurons.html, an old room link) was Starlette's bare "Not Found"."""
    for path in ("/neurons.html", "/room/abc", "/static/js/missing.js"):
        page = httpx.get(live_server.http_url + path)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), path
        assert "This page does not exist" in page.text and 'href="/neurons"' in page.text
    api = httpx.get(live_server.http_url + "/api/v1/nowhere")
    assert api.status_code == 404 and api.json()["error"] == "not_found"
    assert "/api/v1/nowhere" in api.json()["message"]


def test_tokens_are_signed_and_expire() -> None:
    expires = int(time.time() + 60)
    token = make_token("k" * 32, 42, "session-1", expires)
    assert read_token("k" * 32, token) == Claims(42, "session-1", expires)
    assert read_token("other-secret", token) is None
    assert read_token("k" * 32, token[:-2] + "xx") is None
    assert read_token("k" * 32, "garbage") is None
    assert read_token("k" * 32, token, now=time.time() + 61) is None  # expired


def test_a_guest_becomes_an_account_and_keeps_points_on_another_device(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    base = live_server.http_url
    guest = httpx.post(f"{base}/api/session", json={"name": "Ada", "country": "gb"}).json()
    assert guest["player"]["name"] == "Ada" and guest["player"]["country"] == "GB"
    player_id = guest["player"]["id"]
    with db.session() as s:
        s.add(PointEvent(player_id=player_id, amount=30, reason="test"))
        s.commit()
    auth = {"authorization": f"Bearer {guest['token']}"}
    short = httpx.post(f"{base}/api/register", json={"login": "ada", "password": "short"}, headers=auth)
    assert short.status_code == 400 and "password" in short.json()["message"]
    made = httpx.post(
        f"{base}/api/register", json={"login": "ada", "password": "correct horse"}, headers=auth
    )
    assert made.status_code == 200 and made.json()["player"]["points"] == 30
    with db.session() as s:
        stored = s.get(Player, player_id)
        assert stored is not None and stored.password_hash and "correct horse" not in stored.password_hash
        assert check_password(stored.password_hash, "correct horse")
    other = httpx.post(f"{base}/api/session", json={}).json()
    taken = httpx.post(
        f"{base}/api/register",
        json={"login": "ada", "password": "lantern orbit 42"},
        headers={"authorization": f"Bearer {other['token']}"},
    )
    assert taken.status_code == 409
    wrong = httpx.post(f"{base}/api/login", json={"login": "ada", "password": "wrong password"})
    assert wrong.status_code == 401
    login = httpx.post(f"{base}/api/login", json={"login": "ada", "password": "correct horse"}).json()
    assert login["player"]["id"] == player_id and login["player"]["points"] == 30
    me = httpx.get(f"{base}/api/me", headers={"authorization": f"Bearer {login['token']}"}).json()
    assert me["player"]["login"] == "ada"
    assert httpx.post(f"{base}/api/session", content=b"not json").status_code == 400


async def test_a_login_token_opens_the_websocket_as_that_player(live_server: LiveServer) -> None:
    session = httpx.post(f"{live_server.http_url}/api/session", json={"name": "Zed"}).json()
    client = await Client.connect(live_server.ws_url, token=session["token"])
    welcome = await client.expect("welcome")
    assert welcome["player"]["id"] == session["player"]["id"] and welcome["player"]["name"] == "Zed"
    await client.close()


async def test_test_text_reaches_the_worker_and_can_be_shared(
    live_server: LiveServer, hub_settings: Settings, redis_client: redis.Redis
) -> None:
    """The worker's side is played here with eventlog.publish_to_player, as test_text_job does."""
    alice, bob = await Client.connect(live_server.ws_url), await Client.connect(live_server.ws_url)
    alice_id = (await alice.expect("welcome"))["player"]["id"]
    await bob.expect("welcome")
    puzzle = await alice.join_round("adv")
    await bob.send({"type": "join", "room": "adv"})
    await bob.expect("room")
    await alice.send({"type": "test_text", "text": "a cat on a mat", "request_id": "q1"})
    assert (await alice.expect("test_queued"))["request_id"] == "q1"
    job = Queue(hub_settings.queue_model, connection=redis_client).jobs[-1]
    campaign, index = puzzle["neuron"]["campaign"], puzzle["neuron"]["index"]
    assert job.func_name == "workers.activations.test_text_job"
    assert job.args == (campaign, index, "a cat on a mat", alice_id, "adv", "q1")

    await alice.send({"type": "share_activations", "request_id": "q1"})
    assert (await alice.expect("error"))["code"] == "not_found"  # no answer yet: nothing to share
    answer = {"type": "activations", "request_id": "q1", "tokens": ["a", " cat"], "activations": [0.0, 1.5]}
    eventlog.publish_to_player(redis_client, alice_id, {**answer, "max": 1.5, "neuron": index})
    assert (await alice.expect("activations"))["tokens"] == ["a", " cat"]
    await asyncio.sleep(0)
    await alice.send({"type": "share_activations", "request_id": "q1"})
    shared = await bob.expect("shared_activations")
    assert shared["player"]["id"] == alice_id and shared["activations"] == [0.0, 1.5]
    await alice.close()
    await bob.close()
