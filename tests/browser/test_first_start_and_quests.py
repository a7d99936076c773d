"""First start and the Wordle loop, on the real default campaign: a "preparing puzzles" banner
fed by the mining progress, quest cards that say when they open, then the daily played once
(result, rank so far, streak and a share card at once, no replay) and the weekly's "1 of 5"."""

from __future__ import annotations

import re
from collections.abc import Callable

import orjson
import redis
from playwright.sync_api import Page, expect
from sqlmodel import select

from config import keys
from config.settings import Settings
from store.db import Database
from store.models import Campaign
from tests.browser.conftest import PHONE, GameServer, shoot


def set_campaign_status(db: Database, name: str, status: str) -> None:
    with db.session() as s:
        campaign = s.exec(select(Campaign).where(Campaign.name == name)).one()
        campaign.status = status
        s.add(campaign)
        s.commit()


def test_first_start_shows_mining_progress_and_when_quests_open(
    real_page: Callable[..., Page], real_settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    name = real_settings.default_campaign
    set_campaign_status(db, name, "mining")
    progress = {"type": "progress", "tokens": 43_000, "total": 100_000, "tokens_per_s": 500.0, "eta_s": 114.0}
    redis_client.set(keys.campaign_progress(name), orjson.dumps(progress))
    page = real_page(viewport=PHONE)
    failed: list[str] = []  # the lobby asked for quests that do not exist yet: 404s, red console lines
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    page.reload()
    expect(page.locator("#preparing-text")).to_have_text("Preparing puzzles: 43% · about 2 min left")
    expect(page.locator("#daily-body")).to_contain_text("Opens when the puzzles are ready (43% prepared")
    expect(page.locator("#weekly-body")).to_contain_text("Opens when the puzzles are ready")
    expect(page.locator("#daily-body .field-error")).to_have_count(0)
    assert not failed, failed
    shoot(page, "phone-first-start")
    redis_client.set(keys.campaign_progress(name), orjson.dumps({**progress, "tokens": 87_000}))
    expect(page.locator("#preparing-text")).to_contain_text("87%")
    set_campaign_status(db, name, "ready")
    expect(page.locator("#preparing")).to_have_count(0)
    expect(page.get_by_role("button", name="Play today's puzzle")).to_be_visible()


def submit(page: Page, text: str) -> None:
    expect(page.locator("#clues .snippet").first).to_be_visible()
    page.get_by_label("This neuron fires on…").fill(text)
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#explanations")).to_contain_text(text)


def test_the_daily_is_played_once_and_shared_at_once(
    real_page: Callable[..., Page], real_server: GameServer
) -> None:
    page = real_page()
    page.get_by_role("button", name="Play today's puzzle").click()
    expect(page).to_have_url(re.compile(r"#/room/daily-"))
    submit(page, "the verb come and words like it")
    # The round ends, the room starts its next round (for later players): this player is not
    # served the same neuron again but sent to the result.
    real_server.clock.advance(real_server.settings.room_round_s + 1)
    page.wait_for_timeout(2000)  # the ticker ends the round; the reveal then runs its time
    real_server.clock.advance(real_server.settings.room_reveal_s + 1)
    expect(page).to_have_url(re.compile(r"#/play$"), timeout=20_000)
    expect(page.locator("#daily-done")).to_have_text("Done for today ✓")
    expect(page.locator("#daily-result")).to_contain_text("/100")
    expect(page.locator("#daily-result")).to_contain_text("so far")
    expect(page.locator("#streak-current")).to_be_visible()
    page.get_by_role("button", name="Share your result").click()
    card = page.locator("#share-text")
    expect(card).to_contain_text("NeuronQuest daily")
    expect(card).not_to_contain_text("come")  # spoiler-free: no explanation, no clue
    shoot(page, "lobby-daily-done")
    # A second tab opening today's room by its link is refused by the server (`daily_played`)
    # and shown the result instead of the neuron.
    room = page.evaluate("() => fetch('/api/v1/quests/daily').then((r) => r.json()).then((q) => q.room)")
    second = page.context.new_page()
    second.goto(f"{real_server.url}/#/room/{room}")
    expect(second).to_have_url(re.compile(r"#/play$"), timeout=15_000)
    expect(second.locator("#daily-done")).to_have_text("Done for today ✓")
    expect(second.locator("#clues .snippet")).to_have_count(0)


def test_the_daily_room_keeps_each_text_to_its_author(
    real_page: Callable[..., Page], real_server: GameServer
) -> None:
    """Quest rooms are blind (rooms/blind.py): a player who has not written yet sees that
    someone wrote, not what; nobody votes; the author reads their own text. The room serves
    the same neuron again next round: a draft typed as the round turns over is kept."""
    author, reader = real_page(), real_page(viewport=PHONE)
    for page in (author, reader):
        page.get_by_role("button", name="Play today's puzzle").click()
        expect(page).to_have_url(re.compile(r"#/room/daily-"))
        expect(page.locator("#clues .snippet").first).to_be_visible()
    submit(author, "the verb come and words like it")
    expect(reader.locator("#explanations .hidden-text")).to_have_text("hidden until the quest closes")
    expect(reader.locator("#explanations")).not_to_contain_text("come")
    expect(reader.locator("#explanations button.vote")).to_have_count(0)
    expect(author.locator("#explanations q")).to_have_text("the verb come and words like it")
    shoot(reader, "daily-blind-phone")
    box = reader.get_by_label("This neuron fires on…")
    box.fill("a half-written idea")
    real_server.clock.advance(real_server.settings.room_round_s + 1)
    expect(reader.locator("#phase")).to_have_text(re.compile("^(Scoring|Result)$"), timeout=10_000)
    real_server.clock.advance(real_server.settings.room_reveal_s + 1)
    expect(reader.locator("#phase")).to_have_text("Round 2", timeout=10_000)
    expect(box).to_have_value("a half-written idea")


def test_the_weekly_shows_how_far_the_player_is(real_page: Callable[..., Page]) -> None:
    page = real_page()
    progress = page.locator("#weekly-progress")
    expect(progress).to_have_text(re.compile(r"^0 of \d+ neurons explained$"))
    total = int((progress.text_content() or "").split(" of ")[1].split()[0])
    page.get_by_role("button", name="Play the weekly quest").click()
    submit(page, "the verb come")
    page.get_by_role("link", name="Play", exact=True).click()
    expect(progress).to_have_text(f"1 of {total} neurons explained")
    expect(page.get_by_role("button", name="Continue the weekly quest")).to_be_visible()
