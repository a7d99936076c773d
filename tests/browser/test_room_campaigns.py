"""The campaign a room plays, and the words of pages about campaigns, in a real browser.

- With a campaign of neurons (the default) and one of features installed, a player creating a
  private room picks the features from the lobby's picker; the room, its lobby and a friend
  who joins by code all say "feature", and the puzzles are the features'. The streamer host
  console offers the same picker. The nav names both units.
- With only a campaign of features installed (the default), the home page, the nav, the
  reference index and the tutorial say "feature", never "neuron".
Screenshots of both at a phone and a desktop size go where ``shoot`` puts them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from config.settings import Settings
from store.db import Database
from tests.browser.conftest import DESKTOP, PHONE, GameServer, page_maker, seed_animal_campaign, shoot
from tests.server.conftest import Clock

FEATURES = "animal-features"
SAE = "animals-sae"

# Every word of a view a player can read: text, placeholders, labels.
WORDS_JS = """(id) => {
  const root = document.getElementById(id);
  const parts = [root.innerText];
  for (const el of root.querySelectorAll('*')) {
    for (const a of ['placeholder', 'aria-label', 'title']) parts.push(el.getAttribute(a) || '');
  }
  return parts.join('\\n');
}"""


@pytest.fixture
def feature_ids(db: Database, neurons: list[int]) -> list[int]:
    """A campaign of features beside the default campaign of neurons: 8 of them, so the daily
    and weekly quests (which seal the units they play, store/sealed.py) leave some to rooms."""
    return seed_animal_campaign(db, FEATURES, 8, source=SAE)


def test_a_private_room_plays_the_features_its_creator_picked(
    new_page: Callable[..., Page], server: GameServer, feature_ids: list[int], neurons: list[int]
) -> None:
    host, guest = new_page(), new_page(viewport=PHONE)
    expect(host.locator("#nav-browse")).to_have_text("Browse neurons & features")
    picker = host.get_by_label("Puzzles")
    expect(picker).to_be_visible()
    options = picker.locator("option")
    expect(options).to_have_count(2)
    expect(options.first).to_have_text("animals-demo — neurons (default)")
    expect(options.nth(1)).to_have_text(f"{FEATURES} — features")
    about = host.locator("#create-campaign-about")
    expect(about).to_have_text("neurons · minilm-l6, layer 3")
    picker.select_option(FEATURES)
    expect(about).to_have_text(f"features of SAE {SAE} · minilm-l6, layer 3")
    shoot(host, "room-campaign-picker-desktop")
    expect(guest.get_by_label("Puzzles")).to_be_visible()  # the phone's lobby has it too
    guest.get_by_label("Puzzles").select_option(FEATURES)
    guest.locator("#create-room").scroll_into_view_if_needed()
    shoot(guest, "room-campaign-picker-phone")
    host.get_by_role("button", name="Create a room").click()
    panel = host.locator("#game-panel")
    expect(panel).to_contain_text(f"Puzzles: the features of campaign {FEATURES}")
    expect(host.locator("#neuron-title")).to_have_text("Waiting for a feature…")
    code = (host.locator("#room-code").text_content() or "").strip()

    guest.get_by_label("Room code").fill(code)
    guest.get_by_role("button", name="Join", exact=True).click()
    expect(guest.locator("#game-panel")).to_contain_text(f"the features of campaign {FEATURES}")
    expect(guest.locator("#neuron-title")).to_have_text("Waiting for a feature…")
    shoot(guest, "room-campaign-lobby-phone")
    host.get_by_role("button", name="Start the game").click()
    for page in (host, guest):
        expect(page.locator("#phase")).to_have_text("Round 1")
        title = page.locator("#neuron-title").inner_text()
        assert re.fullmatch(r"Feature \d+", title), title
        expect(page.get_by_label("This feature fires on…")).to_be_visible()
        words = page.evaluate(WORDS_JS, "view-room").lower()
        assert "neuron" not in words, [line for line in words.splitlines() if "neuron" in line]
    # The clues are the features campaign's: its unit page is the SAE's, not the neurons'.
    href = host.locator("#neuron-link").get_attribute("href") or ""
    assert href.startswith(f"/units/minilm-l6/3/{SAE}/"), href


def test_the_host_console_offers_the_same_campaigns(
    new_page: Callable[..., Page], server: GameServer, feature_ids: list[int]
) -> None:
    host = new_page(path="/static/host.html")
    picker = host.get_by_label("Puzzles")
    expect(picker.locator("option")).to_have_count(2)
    picker.select_option(FEATURES)
    host.get_by_label("Your name on stream").fill("Ada Streams")
    expect(host.locator("#host-campaign-about")).to_have_text(f"features of SAE {SAE} · minilm-l6, layer 3")
    shoot(host, "host-campaign-form-desktop")
    host.get_by_role("button", name="Create room").click()
    expect(host.locator("#host-puzzles")).to_have_text(f"Puzzles: the features of campaign {FEATURES}")
    shoot(host, "host-campaign-desktop")
    host.get_by_role("button", name="Start", exact=True).click()
    expect(host.locator("#live-status")).to_contain_text("Round 1")
    expect(host.locator("#host-clues .snippet").first).to_be_visible()


@pytest.fixture
def feature_server(game_settings: Settings, db: Database) -> Iterator[GameServer]:
    """A game whose only (and default) campaign is one of features."""
    settings = game_settings.model_copy(update={"default_campaign": FEATURES})
    seed_animal_campaign(db, FEATURES, 2, source=SAE)
    live = GameServer(settings, Clock()).start()
    yield live
    live.stop()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_game_of_features_says_feature_on_its_home_nav_and_tutorial(
    browser: Browser, feature_server: GameServer, viewport: dict[str, int]
) -> None:
    make, close = page_maker(browser, feature_server)
    try:
        # The tutorial first (a new player lands there), in the default campaign's word.
        tour = make(viewport=viewport, onboarded=False)
        expect(tour.locator("#tour-h1")).to_have_text("Find where the feature fires")
        expect(tour.locator("#view-learn")).to_contain_text("one feature fires hardest")
        shoot(tour, f"features-tutorial-{viewport['width']}")
        tour.locator("#tour .tok.max").first.click()
        tour.get_by_role("button", name="Next: guess").click()
        expect(tour.locator("#tour-h2")).to_be_visible()
        expect(tour.locator("#view-learn")).to_contain_text("Write what the feature fires on")
        tour.locator("#tour-guess").fill("animals")
        tour.get_by_role("button", name="Score my guess").click()
        expect(tour.locator("#view-learn")).to_contain_text("predicts where the feature fires")
        learn = tour.evaluate(WORDS_JS, "view-learn").lower()
        assert "neuron" not in learn, [line for line in learn.splitlines() if "neuron" in line]

        home = make(viewport=viewport)
        expect(home.locator("#hero-h")).to_have_text("Explain a feature.")
        expect(home.locator("#hero-intro")).to_contain_text("one feature of a language model")
        expect(home.locator("#nav-browse")).to_have_text("Browse features")
        lobby = home.evaluate(WORDS_JS, "view-lobby").lower()
        assert "neuron" not in lobby, [line for line in lobby.splitlines() if "neuron" in line]
        expect(home.locator("#create-campaign")).to_have_count(0)  # one campaign: nothing to pick
        shoot(home, f"features-home-{viewport['width']}")
        if viewport is PHONE:
            return
        home.locator("#nav-browse").click()
        expect(home.locator("#index-title")).to_have_text("Browse features")
        expect(home.locator("#crumb-browse")).to_have_text("Browse features")
        expect(home.locator("#index")).to_contain_text(f"features of SAE {SAE}")
        expect(home.locator("#search-q")).to_have_attribute("placeholder", "which features are about dates?")
    finally:
        close()
