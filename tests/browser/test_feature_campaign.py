"""A campaign of SAE latents ("features") played in a room: the player's view names features,
never neurons, and the unit page says which unit it shows.

The SAE is built in the test (tests/support/small_sae.py) on MiniLM-L6 layer 3 and its latents
mined from the bundled corpus with the real mining code, as real_campaign.py does for neurons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import col, select

from config.settings import Settings
from engine.corpus import corpus_label, make_windows
from engine.mining import Miner
from engine.models import load_model
from engine.sae import save_sae
from engine.units import LatentModel, sae_dir
from store.campaigns import finish_campaign, start_campaign
from store.db import Database
from store.models import Neuron
from tests.browser.conftest import GameServer, page_maker
from tests.browser.real_campaign import MINE_TOKENS, REAL_LAYER, REAL_MODEL, WINDOW
from tests.server.conftest import Clock
from tests.support.small_sae import build_sae

SAE = "minilm-l6-l3-test-topk4"
FEATURES = "minilm-l6-layer3-features"
LATENTS = range(0, 6)

# Every word a player can read or hear in the room view: text, placeholders, labels, titles.
WORDS_JS = """() => {
  const root = document.getElementById('view-room');
  const parts = [root.innerText];
  for (const el of root.querySelectorAll('*')) {
    for (const a of ['placeholder', 'aria-label', 'title']) parts.push(el.getAttribute(a) || '');
  }
  for (const label of root.querySelectorAll('label')) parts.push(label.textContent);
  return parts.join('\\n');
}"""


@pytest.fixture
def feature_settings(game_settings: Settings) -> Settings:
    # Long rounds and results: the first scoring job loads the simulator (tens of seconds here),
    # and the round must end because everyone is done, its result stay while the test reads it.
    timing = {"room_round_s": 600.0, "room_reveal_s": 600.0, "room_reveal_min_s": 600.0}
    return game_settings.model_copy(update={"default_campaign": FEATURES, **timing})


@pytest.fixture
def feature_ids(feature_settings: Settings, db: Database) -> list[int]:
    """The SAE saved where the workers look for it, its latents mined and stored as a build does."""
    model = load_model(REAL_MODEL, device="cpu")
    sae = build_sae(model, REAL_LAYER, d_sae=32, k=4)
    save_sae(sae, sae_dir(feature_settings.data_path, SAE))
    windows = make_windows(model, None, window=WINDOW, max_tokens=MINE_TOKENS)
    miner = Miner(LatentModel(model, sae, SAE), windows, REAL_LAYER, LATENTS)
    summaries = miner.run()
    with db.session() as session:
        campaign = start_campaign(
            session, name=FEATURES, model=REAL_MODEL, layer=REAL_LAYER, neuron_start=LATENTS.start,
            neuron_end=LATENTS.stop, corpus=corpus_label(None), window=WINDOW, unit="latent", source=SAE,
        )  # fmt: skip
        finish_campaign(session, campaign, summaries, miner.total_tokens)
        rows = session.exec(
            select(Neuron).where(Neuron.campaign_id == campaign.id).order_by(col(Neuron.index))
        )
        return [int(n.id or 0) for n in rows]


@pytest.fixture
def feature_page(
    browser: Browser, feature_settings: Settings, feature_ids: list[int]
) -> Iterator[Callable[..., Page]]:
    live = GameServer(feature_settings, Clock()).start()
    make, close = page_maker(browser, live)
    yield make
    close()
    live.stop()


def test_a_feature_campaign_is_played_as_features(
    feature_page: Callable[..., Page], feature_ids: list[int], run_jobs: Callable[[], None]
) -> None:
    alice, bob = feature_page(), feature_page()
    for page in (alice, bob):
        page.get_by_label("Room code").fill("feat")
        page.get_by_role("button", name="Join", exact=True).click()
        expect(page.locator("#phase")).to_have_text("Round 1")
    expect(alice.locator("#clues .snippet").first).to_be_visible()
    title = alice.locator("#neuron-title").inner_text()
    assert re.fullmatch(r"Feature \d+", title), title
    index = int(title.split()[1])

    # Both explain and vote; the real scoring job scores them; the result is shown.
    for page, text in ((alice, "numbers and dates"), (bob, "the word the")):
        page.get_by_label("This feature fires on…").fill(text)
        page.get_by_role("button", name="Submit").click()
        expect(page.locator(".expl.mine", has_text=text)).to_have_count(1)
    for voter, target in ((alice, "the word the"), (bob, "numbers and dates")):
        item = voter.locator(".expl", has_text=target)
        item.get_by_role("button", name="vote for").click()
        expect(item.locator(".vote")).to_have_attribute("aria-pressed", "true")
    run_jobs()
    expect(alice.locator("#result")).to_be_visible(timeout=30_000)
    expect(alice.locator("#result .entry")).to_have_count(2)
    expect(alice.locator("#result .round-points")).to_contain_text("first explanation of this feature")

    # Advanced mode: the feature on the player's own text.
    alice.locator("#advanced summary").click()
    alice.get_by_label("Text to test on this feature").fill("On March 3, 2021 the city voted.")
    alice.get_by_role("button", name="Test", exact=True).click()
    run_jobs()
    expect(alice.locator("#test-result .toks")).to_have_text(
        "On March 3, 2021 the city voted.", timeout=30_000
    )

    for page in (alice, bob):
        words = page.evaluate(WORDS_JS)
        assert "feature" in words.lower()
        assert "neuron" not in words.lower(), [
            line for line in words.splitlines() if "neuron" in line.lower()
        ]

    # The player's history (the profile) remembers a feature, not a neuron.
    bob.get_by_role("link", name="Profile", exact=True).click()
    expect(bob.locator("#profile-body .history")).to_contain_text(f"feature {index}")

    # The unit page the room links to names the unit in full.
    href = alice.locator("#neuron-link").get_attribute("href")
    assert href == f"/units/{REAL_MODEL}/{REAL_LAYER}/{SAE}/{index}"
    alice.goto(alice.url.split("/#")[0].rstrip("/") + href)
    expect(alice.locator("#title")).to_have_text(f"Feature {index}")
    expect(alice.locator("#subtitle")).to_contain_text(
        f"Feature {index} of SAE {SAE} on layer 3 of minilm-l6"
    )
    expect(alice.locator("#play-link")).to_have_text("Play this feature")
    expect(alice.locator("#top-records .record").first).to_be_visible()
    assert alice.title().startswith(f"Feature {index} of SAE {SAE}")
