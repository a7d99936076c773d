"""A private room in two browsers: its creator sees who is in, sets the game up and presses
Start; the other player can only wait; both pass and the round ends before its clock; after
the last round both see the game's summary."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, GameServer


def test_a_private_room_from_lobby_to_summary(new_page: Callable[..., Page], server: GameServer) -> None:
    host, guest = new_page(), new_page(viewport=PHONE)
    host.get_by_role("button", name="Create a room").click()
    panel = host.locator("#game-panel")
    expect(panel).to_contain_text("Lobby")
    code = (host.locator("#room-code").text_content() or "").strip()
    assert code.startswith("p-")

    guest.get_by_label("Room code").fill(code)
    guest.get_by_role("button", name="Join", exact=True).click()
    expect(guest.locator("#game-panel")).to_contain_text("Waiting for")
    expect(guest.get_by_role("button", name="Start the game")).to_have_count(0)
    expect(panel).to_contain_text("2 in the room")
    expect(host.locator("#phase")).not_to_have_text("Round 1")  # no puzzle before Start

    host.get_by_label("Rounds").fill("1")
    host.get_by_label("Round (s)").fill("120")
    host.get_by_role("button", name="Save").click()
    expect(guest.locator("#game-panel")).to_contain_text("1 rounds of 120 s")
    host.get_by_role("button", name="Start the game").click()
    expect(guest.locator("#phase")).to_have_text("Round 1")

    # Nobody writes: both are done, so the round ends long before its two minutes.
    for page in (host, guest):
        page.get_by_role("button", name="I'm done").click()
    expect(host.locator("#game-panel")).to_contain_text("Game over: 1 rounds", timeout=20_000)
    expect(guest.locator("#game-panel")).to_contain_text("Game over: 1 rounds")
    expect(guest.locator("#game-panel table tbody tr")).to_have_count(2)
    # The room is held again: the creator may start another game, the guest may not.
    expect(host.get_by_role("button", name="Start the game")).to_be_visible()
    expect(guest.get_by_role("button", name="Start the game")).to_have_count(0)
