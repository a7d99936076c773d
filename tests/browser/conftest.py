"""Real Chromium (Debian's /usr/bin/chromium, driven by Playwright for Python) against the real
app: uvicorn in a thread on a known port, the real Redis and database, a small seeded campaign,
and the real RQ jobs (scoring, test_text) run by a SimpleWorker in the test's own thread.

Skipped with a reason when Chromium or Playwright is missing; CI installs both (see README).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn
from rq import SimpleWorker

from config.settings import Settings
from server.app import create_app
from server.cli.embedded_redis import free_port
from store.db import Database
from store.models import Campaign, Neuron, Snippet
from tests.browser.real_campaign import (  # noqa: F401 - fixtures for the real campaign
    minilm_mined,
    real_neurons,
    real_page,
    real_server,
    real_settings,
)
from tests.server.conftest import Clock
from workers.context import use_settings
from workers.queues import model_queue

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARTIFACT_SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - CI installs it with the test extras
    sync_playwright = None  # type: ignore[assignment]

if sync_playwright is None or not shutil.which(CHROMIUM):
    pytest.skip(
        "browser tests need Playwright (pip install playwright) and Debian's Chromium "
        "(apt-get install chromium) at /usr/bin/chromium",
        allow_module_level=True,
    )


# -- a campaign that reads well on screen ------------------------------------------------
ANIMALS = {"cat", "dog", "horse", "cows", "fox", "owl", "sheep", "rabbit", "birds", "kitten"}
TOP_TEXTS = [
    "My old cat sleeps all afternoon on the warm windowsill.",
    "The farmer fed the horse and then milked the cows before dawn.",
    "A small dog barked at the mailman until he left.",
    "At night an owl called from the tall pines behind the barn.",
    "The fox slipped under the fence and vanished into the field.",
    "Her kitten chased a ribbon across the kitchen floor.",
]
RANDOM_TEXTS = [
    "The train left the station at exactly noon on Tuesday.",
    "She paid the bill, thanked the waiter and walked home.",
    "Interest rates rose for the third quarter in a row.",
    "Please remember to submit the form before Friday.",
]


HISTOGRAM = [9000, 2100, 700, 260, 120, 80, 50, 30, 22, 15, 11, 8, 6, 4, 3, 2]


def tokens_of(text: str) -> list[str]:
    words = text.split(" ")
    return [words[0], *(f" {w}" for w in words[1:])]


def activations_of(tokens: list[str]) -> list[float]:
    out = []
    for i, tok in enumerate(tokens):
        word = tok.strip().strip(".,").lower()
        out.append(round(3.2 - 0.1 * (i % 4), 2) if word in ANIMALS else round(0.05 * (i % 3), 2))
    return out


def seed_animal_campaign(db: Database, name: str, neurons: int = 2, *, source: str = "neurons") -> list[int]:
    """A ready campaign of the animal clues: neurons, or the features of SAE ``source``."""
    ids = []
    unit, kind = ("neuron", "neurons") if source == "neurons" else ("latent", "sae")
    with db.session() as s:
        campaign = Campaign(
            name=name, model="minilm-l6", layer=3, status="ready", neuron_end=neurons,
            unit=unit, source=source, source_kind=kind,
        )  # fmt: skip
        s.add(campaign)
        s.commit()
        for index in range(neurons):
            neuron = Neuron(
                campaign_id=campaign.id or 0, index=index, max_activation=3.2, mean_activation=0.11,
                frac_active=0.042,
                histogram={"edges": [i * 0.2 for i in range(17)], "counts": HISTOGRAM},
            )  # fmt: skip
            s.add(neuron)
            s.commit()
            ids.append(neuron.id or 0)
            for kind, texts in (("top", TOP_TEXTS), ("random", RANDOM_TEXTS)):
                for rank, text in enumerate(texts):
                    toks = tokens_of(text)
                    acts = activations_of(toks)
                    best = max(range(len(acts)), key=lambda k: acts[k])
                    row = Snippet(
                        neuron_id=neuron.id or 0, kind=kind, rank=rank, tokens=toks, activations=acts
                    )
                    row.max_activation, row.max_index = acts[best], best
                    s.add(row)
            s.commit()
    return ids


# -- the server ------------------------------------------------------------------------------
class GameServer:
    """uvicorn in a thread on a fixed port, so a restart comes back where browsers reconnect."""

    def __init__(self, settings: Settings, clock: Clock, port: int | None = None) -> None:
        self.settings, self.clock = settings, clock
        self.port = port or free_port()
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GameServer:
        config = uvicorn.Config(
            create_app(self.settings, clock=self.clock), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server and self.thread:
            self.server.should_exit = True
            self.thread.join(10)


@pytest.fixture
def game_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"room_lobby_s": 0.0, "room_round_s": 60.0, "room_reveal_s": 30.0, "room_reveal_min_s": 0.0,
                "default_campaign": "animals-demo", "heartbeat_s": 5.0}
    )  # fmt: skip


@pytest.fixture
def neurons(game_settings: Settings, db: Database) -> list[int]:
    return seed_animal_campaign(db, game_settings.default_campaign)


@pytest.fixture
def server(game_settings: Settings, neurons: list[int]) -> Iterator[GameServer]:
    live = GameServer(game_settings, Clock()).start()
    yield live
    live.stop()


@pytest.fixture
def run_jobs(game_settings: Settings, redis_client: redis.Redis) -> Callable[[], None]:
    """Run every queued model job now (scoring, test_text) with a real RQ SimpleWorker."""

    def run() -> None:
        use_settings(game_settings)
        queue = model_queue(redis_client, game_settings)
        SimpleWorker([queue], connection=redis_client).work(burst=True)

    return run


# -- the browser ---------------------------------------------------------------------------
# Package scope, not session: Playwright's sync API keeps an event loop running in the main
# thread until it stops, and every later test that calls asyncio.run would fail.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


# Every page watches what it draws: a text node that reads "null" or "undefined" is a view that
# passed a missing value to the DOM (a private room's lobby showed "null" under its settings).
LEAK_WATCH = (Path(__file__).parent / "leak_watch.js").read_text()


def page_maker(browser: Browser, server: GameServer) -> tuple[Callable[..., Page], Callable[[], None]]:
    """(make, close): pages in their own contexts (own localStorage = own player), onboarding
    done unless asked; close() closes every context made, and fails when a page drew a missing
    value ("null", "undefined") as text."""
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP, onboarded: bool = True, path: str = "/") -> Page:
        context = browser.new_context(viewport=viewport, reduced_motion="reduce")
        context.set_default_timeout(15_000)
        if onboarded:
            context.add_init_script("localStorage.setItem('nq.onboarded', '1')")
        context.add_init_script(LEAK_WATCH)
        contexts.append(context)
        page = context.new_page()
        page.goto(server.url + path)
        return page

    def close() -> None:
        leaks = []
        for context in contexts:
            for page in context.pages:
                with contextlib.suppress(Exception):  # a page that crashed has nothing to say
                    leaks += [(page.url, text) for text in page.evaluate("window.__nqLeaks || []")]
            context.close()
        assert not leaks, f"pages drew missing values as text: {leaks[:5]}"

    return make, close


@pytest.fixture
def new_page(browser: Browser, server: GameServer) -> Iterator[Callable[..., Page]]:
    """Pages in their own contexts (own localStorage = own player); onboarding done unless asked."""
    make, close = page_maker(browser, server)
    yield make
    close()


def shoot(page: Any, name: str, full_page: bool = False) -> None:
    """A screenshot of a main screen. Runs write them under tests/artifacts/screenshots (ignored
    by git); `NQ_UPDATE_SCREENSHOTS=1` writes docs/screenshots, which README shows."""
    target = SCREENSHOTS if os.environ.get("NQ_UPDATE_SCREENSHOTS") == "1" else ARTIFACT_SCREENSHOTS
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=full_page, animations="disabled")
