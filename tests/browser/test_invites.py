"""Invite links survive the tutorial, or let a new player skip it, and land in the room."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, shoot


def play_tutorial(page: Page) -> None:
    page.locator(".tour-step .tok.max").first.click()
    page.get_by_role("button", name="Next: guess").click()
    page.get_by_role("textbox", name="your explanation").fill("names of animals")
    page.get_by_role("button", name="Score my guess").click()
    page.get_by_role("button", name="Play for real").click()


def test_a_room_link_survives_the_tutorial(real_page: Callable[..., Page], real_neurons: list[int]) -> None:
    page = real_page(onboarded=False, path="/#/room/friends42")
    expect(page).to_have_url(re.compile(r"#/learn$"))
    expect(page.locator("#tour-invite")).to_contain_text("You were invited to room friends42")
    play_tutorial(page)
    expect(page).to_have_url(re.compile(r"#/room/friends42$"))
    expect(page.locator("#room-code")).to_have_text("friends42")
    expect(page.locator("#clues .snippet").first).to_be_visible()


def test_a_new_player_may_skip_straight_into_the_room(
    real_page: Callable[..., Page], real_neurons: list[int]
) -> None:
    host = real_page()
    host.get_by_label("Room code").fill("party7")
    host.get_by_role("button", name="Join", exact=True).click()
    expect(host.locator("#room-code")).to_have_text("party7")
    guest = real_page(viewport=PHONE, onboarded=False, path="/#/room/party7")
    expect(guest.locator("#tour-invite")).to_be_visible()
    shoot(guest, "phone-invite")
    guest.get_by_role("button", name="Skip the tutorial and join").click()
    expect(guest.locator("#room-code")).to_have_text("party7")
    expect(host.locator("#members li")).to_have_count(2)
    guest.reload()  # skipped once: the link is not sent through the tutorial again
    expect(guest.locator("#room-code")).to_have_text("party7")


def test_a_team_invite_link_prefills_the_join_form(
    real_page: Callable[..., Page], real_neurons: list[int]
) -> None:
    captain = real_page()
    expect(captain.locator("#me")).to_contain_text("pts")
    captain.get_by_role("link", name="Teams").click()
    captain.get_by_placeholder("team name").fill("Night Owls")
    captain.get_by_role("button", name="Create a team").click()
    code = captain.locator("#team-invite").text_content() or ""
    friend = real_page(onboarded=False, path=f"/#/teams/join/{code}")
    expect(friend.locator("#tour-invite")).to_contain_text(code)
    play_tutorial(friend)
    expect(friend.locator("#team-code")).to_have_value(code)
    friend.get_by_role("button", name="Join a team").click()
    expect(friend.locator("#team-title")).to_have_text("Night Owls")
