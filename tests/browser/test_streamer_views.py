"""Streamer rooms on the real default campaign, from every side: the host console (live status,
audience size, the clues), a player who sees the host named as host, a late fan who is told they
watch because the room was full (vote, no Submit), a fan who joins as audience on purpose, and
the overlay that empties when the host closes the room. The host is named as they chose when
creating the room (their channel's name), in the roster, the audience banner and the overlay."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.conftest import PHONE, GameServer, shoot


def join(page: Page, code: str, audience: bool = False) -> None:
    expect(page.locator("#me")).to_contain_text("pts")
    page.get_by_label("Room code").fill(code.lower())
    if audience:
        page.get_by_label(re.compile("Join as audience")).check()
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#view-room")).to_be_visible()


def test_host_players_audience_and_overlay(real_page: Callable[..., Page], real_neurons: list[int]) -> None:
    host = real_page(path="/static/host.html")
    name = host.get_by_label("Your name on stream")
    expect(name).not_to_have_value("")  # their own name until they type their channel's
    name.fill("Ada Streams")
    host.get_by_label("Player cap").fill("1")
    host.get_by_role("button", name="Create room").click()
    expect(host.locator("#live-status")).to_contain_text("Not started")
    host.get_by_role("button", name="Reveal").click()
    expect(host.locator("#code")).to_have_text(re.compile(r"^[A-Z]{6}$"))
    code = (host.locator("#code").text_content() or "").strip()
    # The overlay link comes with the room's own event, which may trail the first status line.
    expect(host.locator("#overlay-url")).to_have_value(re.compile(r"overlay="))
    overlay = real_page(path=re.sub(r"^https?://[^/]+", "", host.locator("#overlay-url").input_value()))

    player = real_page()
    join(player, code)
    # The host is named as they chose, with the host label (it was their random guest name).
    host_row = player.locator("#members li", has=player.locator(".pill.host"))
    expect(host_row).to_have_count(1)
    expect(host_row).to_contain_text("Ada Streams")
    expect(host.locator("#host-shown")).to_have_text("Ada Streams")
    expect(overlay.locator("#host-line")).to_have_text("Hosted by Ada Streams")
    expect(player.locator("#audience-banner")).to_have_count(0)
    expect(player.locator("#explain-form")).to_be_visible()

    fan = real_page(viewport=PHONE)
    join(fan, code)  # the cap is 1: the room is full
    banner = fan.locator("#audience-banner")
    expect(banner).to_contain_text("You are watching Ada Streams's room")
    expect(banner).to_contain_text("The room was full (1 player)")
    expect(fan.locator("#explain-form")).to_be_hidden()

    chooser = real_page()
    join(chooser, code, audience=True)
    expect(chooser.locator("#audience-banner")).to_contain_text("You chose to join as audience")

    host.locator("[data-cmd=start]").click()
    expect(host.locator("#live-status")).to_contain_text("Round 1 running")
    expect(host.locator("#live-audience")).to_have_text("2")
    expect(host.locator("#host-clues .snippet").first).to_be_visible()
    # The host reads the clues as the players do: words with their spaces, no "##" pieces.
    host_clues = host.locator("#host-clues .snippet .toks").all_text_contents()
    assert host_clues and all(re.search(r"\w \w", c) and "##" not in c for c in host_clues), host_clues
    expect(fan.locator("#clues .snippet").first).to_be_visible()
    fan.evaluate("window.scrollTo(0, 0)")
    box = banner.bounding_box()  # told at once: not below eight clues on a phone
    assert box and box["y"] + box["height"] <= PHONE["height"], box
    shoot(fan, "phone-audience")
    player.get_by_label("This neuron fires on…").fill("the verb come")
    player.get_by_role("button", name="Submit", exact=True).click()
    vote = fan.locator("#explanations button.vote").first
    expect(vote).to_be_enabled()
    vote.click()
    expect(overlay.locator("#explanations li")).to_contain_text("the verb come")
    expect(overlay.locator("#clues li").first).not_to_contain_text("##")

    host.on("dialog", lambda d: d.accept())
    host.locator("[data-cmd=close_room]").click()
    expect(overlay.locator("#neuron")).to_have_text("The room is closed. Thanks for watching!")
    expect(overlay.locator("#clues li")).to_have_count(0)
    expect(overlay.locator("#explanations li")).to_have_count(0)
    expect(overlay.locator("#timer")).to_have_text("")


def test_create_room_pressed_before_the_server_answers_waits_for_it(
    real_page: Callable[..., Page], real_server: GameServer, real_neurons: list[int]
) -> None:
    """A streamer who presses Create room while the page is still connecting (or reconnecting)
    gets the room once the server answers; the connection used to drop the request unsaid."""
    host = real_page(path="/static/css/style.css")  # any page of the origin, before the route
    held: list[WebSocketRoute] = []

    def hold(ws: WebSocketRoute) -> None:  # open in the page, not connected to the server yet
        held.append(ws)

    host.route_web_socket(re.compile(r"/ws"), hold)
    host.goto(real_server.url + "/static/host.html")
    host.get_by_label("Your name on stream").fill("Ada Streams")  # no welcome yet to fill it
    host.get_by_role("button", name="Create room").click()
    expect(host.locator("#error")).to_contain_text("Connecting to the server")
    expect(host.locator("#console")).to_be_hidden()
    held[0].connect_to_server()
    expect(host.locator("#console")).to_be_visible()
    expect(host.locator("#live-status")).to_contain_text("Not started")
    expect(host.locator("#error")).to_be_empty()
