"""The profile on the real default campaign: ranks in words, locked badges with how to earn
them, and the account from the profile alone: save it, log in on another device, log out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import redis
from playwright.sync_api import Page, expect

from config.settings import Settings
from store.competition.leaderboards import apply_point_event
from store.db import Database
from store.models import Player, PointEvent
from tests.browser.conftest import PHONE, shoot
from tests.browser.test_lobby import player_id


def test_profile_ranks_badges_and_accounts(
    real_page: Callable[..., Page], db: Database, redis_client: redis.Redis, real_settings: Settings
) -> None:
    page = real_page(viewport=PHONE)
    me = player_id(page)
    with db.session() as s:
        event = PointEvent(player_id=me, amount=30, reason="test")
        s.add(event)
        s.commit()
        player = s.get(Player, me)
        assert player is not None
        apply_point_event(redis_client, event, player, None, datetime.now(UTC), real_settings)
    page.get_by_role("link", name="Profile", exact=True).click()
    ranks = page.locator("#ranks")
    expect(ranks).to_contain_text("All players · all time")
    expect(ranks).to_contain_text("All players · today")
    expect(ranks).not_to_contain_text("(d:")
    expect(ranks).not_to_contain_text("points (")
    expect(page.locator(".badge.locked").first).to_contain_text("To earn:")
    expect(page.locator("#me")).to_contain_text("30 pts")  # the header follows the profile's total
    shoot(page, "phone-profile", full_page=True)

    name = (page.locator("#profile-body h1").text_content() or "").strip()
    page.locator("#register-login").fill("ada_lovelace_17")
    page.locator("#register-password").fill("violet quasar ladder 1843")
    page.get_by_role("button", name="Save my account").click()
    expect(page.locator("#account")).to_contain_text("Signed in as ada_lovelace_17", timeout=20_000)

    other = real_page()  # another device: a fresh browser
    player_id(other)
    other.get_by_role("link", name="Profile", exact=True).click()
    other.locator("#login-login").fill("ada_lovelace_17")
    other.locator("#login-password").fill("violet quasar ladder 1843")
    other.get_by_role("button", name="Log in").click()
    expect(other.locator("#me")).to_contain_text(name, timeout=20_000)
    expect(other.locator("#me")).to_contain_text("30 pts")
    other.get_by_role("link", name="Profile", exact=True).click()
    other.get_by_role("button", name="Log out").click()
    expect(other.locator("#me")).not_to_contain_text(name, timeout=20_000)
