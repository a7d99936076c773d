"""Copied explanations earn nothing: a submit that pastes a scored explanation is refused.

The round's own feed shows rivals' explanations, the reveal and the unit's page show scored
ones (the page is one click away during a round). The attack: paste the best of them, with
its case, punctuation or a word changed, and take its score. Real Redis and database.
"""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from config.errors import ERR_COPIED
from rooms.copies import is_copy
from store.db import Database
from store.models import Explanation
from tests.server.conftest import Client, LiveServer


@pytest.mark.parametrize(
    ("text", "earlier", "copied"),
    [
        ("Commas in lists!", "commas in lists", True),
        ("commas  in LISTS", "Commas in lists.", True),
        ("commas in lists lol", "commas in lists", True),  # one word added to three
        ("The word “bank” as a river’s side", "the word 'bank' as a river's side", True),
        ("café menus", "Cafe menus", True),  # accents folded
        ("c\u200dats and small furry animals", "cats and small furry animals", True),  # a joiner in a word
        # Look-alike letters: Cyrillic і, о, с and Greek ο in place of Latin ones.
        ("fіres оn сats", "fires on cats", True),
        ("wοrds abοut the sea", "words about the sea", True),
        ("Кот и собака", "кот и собака", True),  # Russian stays comparable with itself
        ("Кот и собака", "cats and dogs", False),
        ("commas", "commas in lists", False),  # a short text is a copy only word for word
        ("cats sitting on mats", "dogs sitting on mats", False),
        ("words about the sea and ships", "words about the sea", False),
        ("!!!", "commas", False),
    ],
)
def test_what_counts_as_a_copy(text: str, earlier: str, copied: bool) -> None:
    assert is_copy(text, earlier) is copied


def _machine_explanation(db: Database, neuron_id: int, text: str) -> int:
    with db.session() as s:
        row = Explanation(neuron_id=neuron_id, player_id=None, text=text, source="machine")
        s.add(row)
        s.commit()
        return int(row.id or 0)


async def test_pasting_the_units_page_or_a_rival_is_refused(live_server: LiveServer, db: Database) -> None:
    alice, bob = await Client.connect(live_server.ws_url), await Client.connect(live_server.ws_url)
    await alice.expect("welcome")
    await bob.expect("welcome")
    puzzle = await alice.join_round("copycats")
    neuron = puzzle["neuron"]["id"]
    machine = _machine_explanation(db, neuron, "cats and other small furry animals")
    await bob.join_round("copycats")

    # Bob opens the unit's page (the game links it) and pastes what it shows, dressed up.
    page = httpx.get(f"{live_server.http_url}/api/v1/neurons/{neuron}").json()
    shown = [e["text"] for e in page["explanations"]]
    if shown:  # the page may hide a unit being played (then there is nothing to paste)
        assert shown == ["cats and other small furry animals"]
    await bob.send({"type": "submit", "text": "Cats, and other small furry animals!"})
    refused = await bob.expect("error", ref="submit")
    assert refused["code"] == ERR_COPIED and "own" in refused["message"]

    # Alice writes hers; Bob copies it from the round's feed with one word added.
    await alice.send({"type": "submit", "text": "the word cat after the"})
    await alice.expect("explanation")
    await bob.expect("explanation")
    await bob.send({"type": "submit", "text": "The word CAT after the, lol"})
    assert (await bob.expect("error", ref="submit"))["code"] == ERR_COPIED
    # ... or in Cyrillic look-alike letters (а, е, о, с), which a reader cannot tell apart.
    await bob.send({"type": "submit", "text": "thе wоrd саt аftеr thе"})
    assert (await bob.expect("error", ref="submit"))["code"] == ERR_COPIED

    # Refused copies are not his one submission: his own words are taken.
    await bob.send({"type": "submit", "text": "animals people keep at home"})
    mine = (await bob.expect("explanation"))["explanation"]
    assert mine["text"] == "animals people keep at home"
    with db.session() as s:
        rows = list(s.exec(select(Explanation).where(Explanation.neuron_id == neuron)))
    assert sorted(r.text for r in rows) == sorted(
        ["cats and other small furry animals", "the word cat after the", "animals people keep at home"]
    )
    assert machine in {r.id for r in rows}
    await alice.close()
    await bob.close()


async def test_a_removed_explanation_may_be_written_again(live_server: LiveServer, db: Database) -> None:
    alice = await Client.connect(live_server.ws_url)
    await alice.expect("welcome")
    puzzle = await alice.join_round("copy-removed")
    with db.session() as s:
        neuron = puzzle["neuron"]["id"]
        s.add(Explanation(neuron_id=neuron, player_id=None, text="rain all day", status="removed"))
        s.commit()
    await alice.send({"type": "submit", "text": "rain all day"})
    assert (await alice.expect("explanation"))["explanation"]["text"] == "rain all day"
    await alice.close()
