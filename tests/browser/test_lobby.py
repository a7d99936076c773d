"""The lobby's daily puzzle (streak, share card), teams, leaderboards, profile; advanced mode."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import redis
from playwright.sync_api import Page, expect

from config.settings import Settings
from store.competition import quests
from store.competition.leaderboards import apply_point_event
from store.db import Database
from store.models import Player, PointEvent
from tests.browser.conftest import PHONE, GameServer, shoot
from tests.browser.test_round import join


def player_id(page: Page) -> int:
    expect(page.locator("#me")).to_contain_text("pts")
    return int(page.evaluate(
        "fetch('/api/me', {headers: {Authorization: 'Bearer ' + localStorage.getItem('nq.token')}})"
        ".then(r => r.json()).then(b => b.player.id)"
    ))  # fmt: skip


def test_the_daily_share_card_and_streak(
    new_page: Callable[..., Page], server: GameServer, db: Database, game_settings: Settings
) -> None:
    page = new_page()
    me = player_id(page)
    expect(page.locator("#daily-body")).to_contain_text("Play today's puzzle")
    # The card is the player's result: before playing there is none (said inside the card).
    page.get_by_role("button", name="Share").click()
    expect(page.locator("#daily .field-error")).to_contain_text("play today's puzzle first")
    now = datetime.now(UTC)
    with db.session() as s:
        quest = quests.ensure_quest(s, "daily", now, game_settings)
        assert quest is not None and quest.id is not None
        s.add(
            PointEvent(
                player_id=me, amount=73, reason="quest", quest_id=quest.id, neuron_id=quest.neuron_ids[0]
            )
        )
        s.commit()
        quests.close_quest(s, quest, now, game_settings)
        period = quest.period
    page.reload()
    expect(page.locator("#streak-current")).to_have_text("1")
    page.get_by_role("button", name="Share").click()
    card = page.locator("#share-text")
    expect(card).to_contain_text(f"NeuronQuest daily {period}")
    expect(card).to_contain_text("73/100")
    expect(card).to_contain_text("#1 of 1")
    expect(card).to_contain_text("1 day streak")
    shoot(page, "lobby")


def test_teams_leaderboards_and_profile(
    new_page: Callable[..., Page],
    server: GameServer,
    db: Database,
    redis_client: redis.Redis,
    game_settings: Settings,
) -> None:
    page = new_page()
    me = player_id(page)
    with db.session() as s:  # points as a round awards them: in SQL and on the boards
        event = PointEvent(player_id=me, amount=120, reason="test")
        s.add(event)
        s.commit()
        player = s.get(Player, me)
        assert player is not None
        apply_point_event(redis_client, event, player, None, datetime.now(UTC), game_settings)
    page.get_by_role("link", name="Teams").click()
    page.get_by_placeholder("team name").fill("Owl Watchers")
    page.get_by_role("button", name="Create a team").click()
    expect(page.locator("#team-title")).to_have_text("Owl Watchers")
    code = page.locator("#team-invite").text_content() or ""
    assert code
    other = new_page(viewport=PHONE)
    player_id(other)
    other.get_by_role("link", name="Teams").click()
    other.get_by_placeholder("invite code").fill("nope")
    other.get_by_role("button", name="Join a team").click()
    expect(other.get_by_role("alert").filter(has_text="invite code")).to_be_visible()
    other.get_by_placeholder("invite code").fill(code)
    other.get_by_role("button", name="Join a team").click()
    expect(other.locator("#team-title")).to_have_text("Owl Watchers")
    expect(other.locator(".team-card .members li")).to_have_count(2)
    shoot(other, "phone-team")
    other.get_by_role("button", name="Leave the team").click()
    expect(other.get_by_role("button", name="Join a team")).to_be_visible()

    page.get_by_role("link", name="Leaderboards").click()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#board-table tbody tr")).to_have_count(1)
    expect(page.locator("#board-table tr.me")).to_contain_text("120")
    page.get_by_label("Around me").check()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#board-table tr.me")).to_contain_text("120")
    page.locator("#board-kind").select_option("country")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#board-error")).to_contain_text("filter value")
    page.locator("#board-kind").select_option("points")
    page.get_by_label("Around me").uncheck()
    page.get_by_role("button", name="Show").click()
    shoot(page, "leaderboards")

    # Opened straight at the boards (a bookmark, a reload): the all-time board is shown at
    # once, without "Show", and no filter is asked for.
    page.goto(f"{server.url}/#/boards")
    page.reload()
    expect(page.locator("#board-table tr.me")).to_contain_text("120")
    expect(page.locator("#board-error")).to_have_text("")

    page.get_by_role("link", name="Profile", exact=True).click()
    expect(page.locator("#profile-body .kpi").first).to_contain_text("120")
    shoot(page, "profile")


def test_advanced_mode_tests_text_and_shares_it(
    new_page: Callable[..., Page], server: GameServer, run_jobs: Callable[[], None]
) -> None:
    alice, bob = new_page(), new_page()
    join(alice, "lab")
    join(bob, "lab")
    expect(alice.locator("#neuron-stats")).to_contain_text("4.2% of tokens")
    expect(alice.locator("#histogram rect")).to_have_count(16)
    alice.get_by_text("Advanced: test your own text").click()
    alice.get_by_label("Text to test on this neuron").fill("The <b>cat</b> chased a mouse.")
    alice.get_by_role("button", name="Test", exact=True).click()
    expect(alice.locator("#test-result")).to_contain_text("Computing")
    run_jobs()  # the real test_text job runs MiniLM on the text
    result = alice.locator("#test-result .snippet")
    expect(result).to_be_visible(timeout=30_000)
    assert result.locator(".tok").count() >= 5
    expect(result).to_contain_text("cat</")  # player text stays text: the tags show, nothing is bold
    assert result.locator("b").count() == 0
    alice.get_by_role("button", name="Share with the room").click()
    expect(bob.locator("#feed")).to_contain_text("shared a test")
    expect(bob.locator("#feed .snippet")).to_have_count(1)
