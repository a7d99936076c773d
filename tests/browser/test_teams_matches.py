"""Teams and matches from the game alone, on the real default campaign: two captains make teams,
one challenges the other from the team page, the other accepts, and both land in the match room."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, shoot


def make_team(page: Page, name: str) -> None:
    expect(page.locator("#me")).to_contain_text("pts")
    page.get_by_role("link", name="Teams").click()
    page.get_by_placeholder("team name").fill(name)
    page.get_by_role("button", name="Create a team").click()
    expect(page.locator("#team-title")).to_have_text(name)


def test_a_captain_challenges_the_other_accepts_and_both_teams_play(
    real_page: Callable[..., Page], real_neurons: list[int]
) -> None:
    alice, carol = real_page(), real_page(viewport=PHONE)
    make_team(alice, "Red Pandas")
    make_team(carol, "Blue Whales")
    # The team page: points, rank, members, the invite with a copy button.
    expect(alice.locator("#team-points")).to_have_text("0")
    expect(alice.locator("#team-rank")).to_have_text("unranked")
    expect(alice.locator(".team-card .members li")).to_have_count(1)
    alice.get_by_role("button", name="Copy invite link").click()
    expect(alice.locator("#toasts")).to_contain_text("Invite link")

    alice.reload()  # the list of teams now holds Blue Whales
    expect(alice.locator("#challenge-team")).to_contain_text("Blue Whales")
    alice.locator("#challenge-team").select_option(label="Blue Whales (unranked)")
    alice.locator("#challenge-rounds").select_option("1")
    alice.get_by_role("button", name="Challenge", exact=True).click()
    pending = alice.locator("#team-challenges .challenge")
    expect(pending).to_contain_text("You challenged Blue Whales")
    expect(pending).to_contain_text("waiting for Blue Whales")
    # Nothing opened yet: no room link until Blue's captain says yes.
    expect(alice.get_by_role("link", name="Enter the match room")).to_have_count(0)

    incoming = carol.locator("#team-challenges .challenge")
    expect(incoming).to_contain_text("Red Pandas challenges you", timeout=15_000)
    shoot(carol, "phone-team-challenge")
    carol.get_by_role("button", name="Accept").click()
    expect(carol).to_have_url(re.compile(r"#/room/match-"))
    expect(carol.locator("#room-code")).to_contain_text("match-")

    enter = alice.get_by_role("link", name="Enter the match room")
    expect(enter).to_be_visible(timeout=15_000)
    enter.click()
    expect(alice.locator("#team-match")).to_be_visible()
    expect(alice.locator("#team-match")).to_contain_text("Red Pandas")
    expect(alice.locator("#team-match")).to_contain_text("Blue Whales")
    expect(alice.locator("#clues .snippet").first).to_be_visible()
    shoot(alice, "team-match")

    # Boards and profiles name the team, never an id.
    alice.get_by_role("link", name="Profile", exact=True).click()
    expect(alice.locator("#profile-team")).to_have_text("Red Pandas")
    alice.get_by_role("link", name="Leaderboards").click()
    alice.locator("#board-kind").select_option("team")
    expect(alice.locator("#board-team")).to_contain_text("Red Pandas")
    expect(alice.locator("#board-param-label")).to_be_hidden()
