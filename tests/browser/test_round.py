"""A round with two browser players: submit, vote, a real scoring job, the reveal; player text
is shown as text (never HTML); the room survives a server restart (reconnect with since=v)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.conftest import PHONE, GameServer, shoot

XSS = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script> animals like cat, dog, horse'


def join(page: Page, room: str) -> None:
    page.get_by_label("Room code").fill(room)
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#phase")).to_have_text("Round 1")


def test_two_players_submit_vote_and_see_the_score_reveal(
    new_page: Callable[..., Page], server: GameServer, run_jobs: Callable[[], None]
) -> None:
    alice, bob = new_page(), new_page(viewport=PHONE)
    join(alice, "duel")
    join(bob, "duel")
    expect(alice.locator("#members li")).to_have_count(2)
    expect(alice.locator("#clues .snippet")).to_have_count(6)
    expect(alice.locator("#clues .tok.max").first).to_have_text(" cat")
    expect(alice.locator("#clues .tok.max").first).to_have_attribute("data-act", "3.00")

    # Submitting shows at once (pending), then the server's event confirms it.
    alice.get_by_label("This neuron fires on…").fill(XSS)
    expect(alice.locator("#counter")).to_have_text(f"{len(XSS)} / 280")
    alice.get_by_role("button", name="Submit").click()
    mine = alice.locator(".expl.mine", has_text="animals like cat")
    expect(mine).to_have_count(1)
    expect(mine).not_to_have_class("expl mine pending")
    expect(alice.get_by_role("button", name="Submit")).to_be_disabled()

    # Bob sees the explanation as literal text, and no markup of it ran.
    shown = bob.locator(".expl", has_text="animals like cat")
    expect(shown.locator("q")).to_have_text(XSS)
    assert bob.locator(".expl img, .expl script").count() == 0
    assert bob.evaluate("window.pwned === undefined") and alice.evaluate("window.pwned === undefined")

    # A second submit is refused inline without losing the text; own votes are not offered.
    expect(alice.locator(".expl.mine .vote")).to_be_disabled()
    shown.get_by_role("button", name="vote for").click()
    expect(shown.locator(".vote .count")).to_have_text("1")
    expect(shown.locator(".vote")).to_have_attribute("aria-pressed", "true")
    expect(mine.locator(".vote .count")).to_have_text("1")  # alice sees bob's vote arrive
    bob.evaluate("window.scrollTo(0, 0)")

    # The real scoring job scores it; the author sees the reveal: the three snippets that show
    # best why, the other five on demand.
    run_jobs()
    expect(mine.locator(".score")).not_to_have_text("—")
    expect(mine.locator(".score .fit-value")).to_have_text(re.compile(r"^-?\d{1,3}$"))
    reveal = alice.locator("#reveal")
    expect(reveal.locator(".compare")).to_have_count(3, timeout=20_000)
    expect(reveal.locator(".big-score")).not_to_have_text("0")
    expect(reveal.locator(".fit-sentence")).not_to_be_empty()
    expect(reveal.locator(".compare").first.locator(".corr")).to_contain_text("fit")
    reveal.get_by_role("button", name="Show the other 5 snippets").click()
    expect(reveal.locator(".compare")).to_have_count(8)
    server.clock.advance(61)
    expect(alice.locator("#phase")).to_have_text("Round 2")
    expect(alice.locator("#feed")).to_contain_text("first explanation")
    expect(alice.locator("#feed")).to_contain_text("Time is up: scoring")  # the clock ran out
    expect(alice.locator("#feed")).not_to_contain_text("the round ends early")
    expect(reveal).to_be_hidden()  # the next round starts clean


def forget_own_votes(ws: WebSocketRoute) -> None:
    """Pass the socket through, with every vote event's voter replaced by nobody."""
    server = ws.connect_to_server()

    def to_page(message: str | bytes) -> None:
        if isinstance(message, str):
            event = json.loads(message)  # one event per frame (client/js/connection.js)
            if event.get("type") == "vote":
                message = json.dumps({**event, "player_id": 0})
        ws.send(message)

    server.on_message(to_page)


def test_a_vote_error_is_shown_inline_and_rolled_back(
    new_page: Callable[..., Page], server: GameServer
) -> None:
    alice, bob = new_page(), new_page()
    join(alice, "dupes")
    join(bob, "dupes")
    alice.get_by_label("This neuron fires on…").fill("farm animals")
    alice.keyboard.press("Enter")
    item = bob.locator(".expl", has_text="farm animals")
    item.get_by_role("button", name="vote for").click()
    expect(item.locator(".vote .count")).to_have_text("1")
    # A page that does not know bob voted (a reload replays his vote event and knows: here the
    # replayed event is rewritten as someone else's) sends a second vote; the server refuses it
    # and the optimistic +1 is rolled back with the reason next to the explanation.
    bob.route_web_socket(re.compile(r"/ws"), forget_own_votes)
    bob.reload()
    item = bob.locator(".expl", has_text="farm animals")
    expect(item.locator(".vote .count")).to_have_text("1")
    item.get_by_role("button", name="vote for").click()
    expect(item.locator(".item-error")).to_have_text("you already voted for this explanation")
    expect(item.locator(".vote .count")).to_have_text("1")
    expect(item.locator(".vote")).to_be_disabled()
    bob.get_by_label("This neuron fires on…").fill("   ")
    bob.get_by_role("button", name="Submit").click()
    expect(bob.locator("#explain-error")).to_have_text("Write a few words first.")


def test_a_second_vote_moves_the_first_one(new_page: Callable[..., Page], server: GameServer) -> None:
    # One vote a round: voting again moves it, and the page must not show both as pressed.
    alice, bob, cy = new_page(), new_page(), new_page(viewport=PHONE)
    for page in (alice, bob, cy):
        join(page, "moves")
    for page, text in ((alice, "farm animals"), (bob, "pets at home")):
        page.get_by_label("This neuron fires on…").fill(text)
        page.get_by_role("button", name="Submit").click()
        expect(cy.locator(".expl", has_text=text)).to_have_count(1)
    first, second = (cy.locator(".expl", has_text=t) for t in ("farm animals", "pets at home"))
    first.get_by_role("button", name="vote for").click()
    expect(first.locator(".vote")).to_have_attribute("aria-pressed", "true")
    second.get_by_role("button", name="vote for").click()
    expect(second.locator(".vote")).to_have_attribute("aria-pressed", "true")
    expect(first.locator(".vote")).to_have_attribute("aria-pressed", "false")
    expect(first.locator(".vote .count")).to_have_text("0")
    expect(cy.locator(".expl .vote[aria-pressed=true]")).to_have_count(1)


def test_the_room_comes_back_after_the_server_restarts(
    new_page: Callable[..., Page], server: GameServer
) -> None:
    alice, bob = new_page(), new_page()
    join(alice, "phoenix")
    join(bob, "phoenix")
    server.stop()
    expect(alice.locator("#offline")).to_be_visible()
    expect(alice.locator("#conn")).to_have_attribute("data-status", "offline")
    alice.get_by_label("This neuron fires on…").fill("kept while offline")
    shoot(alice, "offline-banner")
    server.start()
    expect(alice.locator("#conn")).to_have_attribute("data-status", "online", timeout=20_000)
    expect(alice.locator("#offline")).to_be_hidden()
    expect(alice.get_by_label("This neuron fires on…")).to_have_value("kept while offline")
    # Events made while alice was away reach her (since=v), and the room goes on.
    expect(bob.locator("#conn")).to_have_attribute("data-status", "online", timeout=20_000)
    bob.get_by_label("This neuron fires on…").fill("after the restart")
    bob.get_by_role("button", name="Submit").click()
    expect(alice.locator(".expl", has_text="after the restart")).to_have_count(1)
    alice.get_by_role("button", name="Submit").click()
    expect(bob.locator(".expl", has_text="kept while offline")).to_have_count(1)
    expect(alice.locator("#members li")).to_have_count(2)
