"""A streamer room from the player's side: join with the host's code, get kicked by the host.

The host here is a plain protocol client running in its own browser page (a WebSocket opened
by page script), so the test needs nothing from the host console's own page."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import GameServer, shoot

HOST_SCRIPT = """() => new Promise((resolve, reject) => {
  const ws = new WebSocket(`ws://${location.host}/ws?format=json`);
  window.__host = { ws, events: [] };
  ws.onmessage = (m) => {
    const e = JSON.parse(m.data);
    window.__host.events.push(e);
    if (e.type === "welcome") ws.send(JSON.stringify({ type: "create_room", approval: false }));
    if (e.type === "room_created") resolve(e.code);
    if (e.type === "error") reject(new Error(e.message));
  };
})"""


def test_a_player_joins_by_code_and_the_host_kicks_them(
    new_page: Callable[..., Page], server: GameServer
) -> None:
    host = new_page(path="/static/css/style.css")  # any page of the origin; the script is the host
    code = host.evaluate(HOST_SCRIPT)
    assert len(code) == 6
    player = new_page()
    player.get_by_label("Room code").fill(code.lower())
    player.get_by_role("button", name="Join", exact=True).click()
    expect(player.locator("#view-room")).to_be_visible()
    expect(player.locator("#members li")).to_have_count(2)
    # The room's joins come in "members" events (issue 19); the host's own is among them.
    joiner = """() => {
      const me = window.__host.events.find(e => e.type === 'welcome').player.id;
      const seen = window.__host.events.filter(e => e.type === 'members').flatMap(e => e.joined);
      const other = seen.find(p => p.id !== me);
      return other ? other.id : null;
    }"""
    host.wait_for_function(joiner)
    victim = host.evaluate(joiner)
    shoot(player, "streamer-room")
    host.evaluate(f"window.__host.ws.send(JSON.stringify({{type: 'kick', player_id: {victim}}}))")
    expect(player.get_by_role("alert").filter(has_text="removed you")).to_be_visible()
    expect(player.get_by_role("button", name="Quick play")).to_be_visible()
    # An unknown code is refused inline in the lobby.
    player.get_by_label("Room code").fill("ZZZZZZ")
    player.get_by_role("button", name="Join", exact=True).click()
    expect(player.locator("#join-error")).not_to_be_empty()
