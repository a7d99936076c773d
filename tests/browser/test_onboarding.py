"""Onboarding teaches by playing one easy neuron: find the max token, guess, see the reveal."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, shoot


def test_a_new_player_plays_the_tutorial_and_it_is_remembered(new_page: Callable[..., Page]) -> None:
    page = new_page(onboarded=False)
    expect(page).to_have_url(re.compile(r"#/learn$"))
    expect(page.get_by_role("heading", name="Find where the neuron fires")).to_be_visible()
    # A wrong token gets a hint, the brightest one moves on.
    page.locator(".tour-step .tok", has_text="sleeps").first.click()
    expect(page.locator(".feedback")).to_contain_text("look for a brighter one")
    shoot(page, "onboarding-clues")
    page.locator(".tour-step .tok.max").first.click()
    expect(page.locator(".feedback.good")).to_contain_text("Yes!")
    page.get_by_role("button", name="Next: guess").click()
    page.get_by_role("textbox", name="your explanation").fill("names of animals like cats and dogs")
    page.get_by_role("button", name="Score my guess").click()
    expect(page.get_by_role("heading", name="Your score")).to_be_visible()
    score = float(page.locator(".big-score").get_attribute("data-score") or "nan")
    assert score > 0.7, score
    expect(page.locator(".compare")).to_have_count(5)
    shoot(page, "onboarding-reveal")
    # A poor guess scores low and says why to look at the bars.
    page.get_by_role("button", name="Try another guess").click()
    page.get_by_role("textbox", name="your explanation").fill("the word the")
    page.keyboard.press("Enter")
    assert float(page.locator(".big-score").get_attribute("data-score") or "nan") < 0.3
    page.get_by_role("button", name="Play for real").click()
    expect(page.get_by_role("button", name="Quick play")).to_be_visible()
    # Remembered: a reload goes to the lobby, and the tutorial can be replayed from the nav.
    page.reload()
    expect(page.get_by_role("button", name="Quick play")).to_be_visible()
    page.get_by_role("link", name="How to play").click()
    expect(page.get_by_role("heading", name="Find where the neuron fires")).to_be_visible()


def test_the_tutorial_works_by_keyboard_on_a_phone(new_page: Callable[..., Page]) -> None:
    page = new_page(viewport=PHONE, onboarded=False)
    expect(page.get_by_role("heading", name="Find where the neuron fires")).to_be_visible()
    page.locator(".tour-step .snippet").first.focus()  # one tab stop; focus lands on the max token
    expect(page.locator(".tour-step .tok.max").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Next: guess")).to_be_focused()
    shoot(page, "phone-onboarding")
