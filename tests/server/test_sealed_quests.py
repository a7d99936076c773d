"""A quest unit's explanations are withheld while the quest is open (store/sealed.py).

The quest pays ``10 + 90 * score`` for the score itself, so the attack is to read the best
explanation of today's neuron somewhere — its page, the API, search, the older explanations a
room shows with the puzzle — and hand it in reworded. Before this, every one of those showed
Alice's scored daily explanation to Bob while the daily was open. Real Redis and database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import redis
from sqlmodel import select

from store.db import Database
from store.models import Explanation, Quest
from store.search import save_embeddings, semantic_search
from tests.server.conftest import Client, LiveServer
from tests.server.test_game import worker_scores

ALICE_TEXT = "cats sitting on mats"


def _api(server: LiveServer, path: str) -> httpx.Response:
    return httpx.get(f"{server.http_url}/api/v1{path}")


def _texts(items: list[dict]) -> list[str]:
    return [it.get("text") or it.get("explanation", {}).get("text") for it in items]


async def test_the_daily_units_explanations_are_hidden_until_it_closes(
    live_server: LiveServer, db: Database, redis_client: redis.Redis, campaign: list[int]
) -> None:
    daily = _api(live_server, "/quests/daily").json()
    room, neuron = daily["room"], daily["neuron_ids"][0]
    alice = await Client.connect(live_server.ws_url)
    await alice.expect("welcome")
    await alice.join_round(room)
    await alice.send({"type": "submit", "text": ALICE_TEXT})
    first = (await alice.expect("explanation"))["explanation"]["id"]
    await asyncio.to_thread(worker_scores, db, redis_client, room, first, 0.8)
    with db.session() as s:  # its meaning indexed, as the embedding job does
        save_embeddings(s, "test-embedder", [(first, np.ones(4, dtype=np.float32))])

    # Bob looks everywhere the answer could be while the daily is open.
    page = _api(live_server, f"/neurons/{neuron}").json()
    assert page["explanations"] == [] and page["history"] == []
    assert page["sealed"]["until"].startswith(daily["closes_at"][:10])
    assert _api(live_server, f"/neurons/{neuron}/explanations").json()["items"] == []
    assert ALICE_TEXT not in _texts(_api(live_server, "/explanations").json()["items"])
    for path in (f"/explanations/{first}", f"/explanations/{first}/scores", f"/explanations/{first}/votes"):
        assert _api(live_server, path).status_code == 404, path
    assert ALICE_TEXT not in _texts(_api(live_server, "/search?q=cats+mats").json()["items"])
    with db.session() as s:
        hits = semantic_search(s, np.ones(4, dtype=np.float32), "test-embedder").to_json()["items"]
    assert hits == []
    # Its own room (the page's "Play this neuron") does not serve it while the quest runs: an
    # open room would show the texts its players write (the quest's room is blind).
    bob = await Client.connect(live_server.ws_url)
    await bob.expect("welcome")
    await bob.send({"type": "join", "room": f"neuron-{neuron}"})
    notice = await bob.expect("notice", timeout=10)
    assert "quest is playing it" in notice["message"]

    # A unit no quest plays shows its explanations as before (the control).
    with db.session() as s:
        quests = list(s.exec(select(Quest)))
        in_quests = {int(n) for q in quests for n in q.neuron_ids}
        other = next(n for n in campaign if n not in in_quests)
        s.add(Explanation(neuron_id=other, player_id=None, text="rain all day", source="machine"))
        s.commit()
    assert _texts(_api(live_server, f"/neurons/{other}").json()["explanations"]) == ["rain all day"]

    # When the quest closes, Alice's explanation is on its page with its score.
    with db.session() as s:
        for quest in s.exec(select(Quest)):
            quest.closes_at = datetime.now(UTC) - timedelta(seconds=1)
            s.add(quest)
        s.commit()
    page = _api(live_server, f"/neurons/{neuron}").json()
    assert page["sealed"] is None
    assert [(e["text"], e["best_score"]["score"]) for e in page["explanations"]] == [(ALICE_TEXT, 0.8)]
    assert _api(live_server, f"/explanations/{first}").status_code == 200
    assert ALICE_TEXT in _texts(_api(live_server, "/search?q=cats+mats").json()["items"])
    await alice.close()
    await bob.close()
