"""The real default campaign for browser tests: a few neurons of MiniLM-L6 layer 3 mined from the
bundled corpus with the real mining code, so pages show real WordPiece tokens (``##`` pieces,
punctuation, lower-cased words) instead of the whole-word demo campaign.

Mining runs once per test session (``minilm_mined``: about 10 s on the 2-core machine, model
load included; see MINE_TOKENS); each test then writes the mined neurons into its own clean
database (``real_neurons``) with the same store function a real build uses. ``real_server`` and
``real_page`` mirror ``server`` and ``new_page`` for that campaign.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from sqlmodel import col, select

from config.settings import Settings
from engine.corpus import corpus_label, corpus_windows
from engine.mining import Miner, NeuronSummary
from engine.models import load_model
from store.campaigns import finish_campaign, start_campaign
from store.db import Database
from store.models import Neuron
from tests.server.conftest import Clock

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.browser.conftest import GameServer

REAL_CAMPAIGN = "minilm-l6-layer3"  # the name Settings.default_campaign has out of the box
REAL_MODEL, REAL_LAYER = "minilm-l6", 3
REAL_NEURONS = range(0, 4)
# 128 windows of 64 tokens: enough for each neuron's 20 top and 20 random windows.
MINE_TOKENS = 8192
WINDOW = 64


@dataclass(frozen=True)
class MinedCampaign:
    summaries: list[NeuronSummary]
    tokens_seen: int
    seconds: float  # how long mining took (model load included), for the record


@pytest.fixture(scope="session")
def minilm_mined() -> MinedCampaign:
    """MiniLM-L6 layer 3, neurons 0-3, mined once per session from the bundled corpus."""
    start = time.perf_counter()
    model = load_model(REAL_MODEL, device="cpu")
    # As a build mines (workers/mining.py): the windows with the corpus's own text for display.
    cut = corpus_windows(model, None, window=WINDOW, max_tokens=MINE_TOKENS)
    miner = Miner(model, cut.ids, REAL_LAYER, REAL_NEURONS, display=cut.display)
    summaries = miner.run()
    return MinedCampaign(summaries, miner.total_tokens, time.perf_counter() - start)


def store_mined(db: Database, mined: MinedCampaign, name: str = REAL_CAMPAIGN) -> list[int]:
    """Write the mined campaign as a build would (store.campaigns); returns the neuron ids."""
    with db.session() as session:
        campaign = start_campaign(
            session,
            name=name,
            model=REAL_MODEL,
            layer=REAL_LAYER,
            neuron_start=REAL_NEURONS.start,
            neuron_end=REAL_NEURONS.stop,
            corpus=corpus_label(None),
            window=WINDOW,
        )
        finish_campaign(session, campaign, mined.summaries, mined.tokens_seen)
        ids = session.exec(
            select(Neuron.id).where(Neuron.campaign_id == campaign.id).order_by(col(Neuron.index))
        ).all()
    return [int(i) for i in ids if i is not None]


@pytest.fixture
def real_settings(game_settings: Settings) -> Settings:
    return game_settings.model_copy(update={"default_campaign": REAL_CAMPAIGN})


@pytest.fixture
def real_neurons(real_settings: Settings, db: Database, minilm_mined: MinedCampaign) -> list[int]:
    return store_mined(db, minilm_mined, real_settings.default_campaign)


@pytest.fixture
def real_server(real_settings: Settings, real_neurons: list[int]) -> Iterator[GameServer]:
    from tests.browser.conftest import GameServer

    live = GameServer(real_settings, Clock()).start()
    yield live
    live.stop()


@pytest.fixture
def real_page(browser: Browser, real_server: GameServer) -> Iterator[Callable[..., Page]]:
    """Like ``new_page``, on the real campaign's server."""
    from tests.browser.conftest import page_maker

    make, close = page_maker(browser, real_server)
    yield make
    close()
