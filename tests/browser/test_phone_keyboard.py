"""Phone and keyboard on the real default campaign: the explanation box is in reach on a phone
without scrolling past every clue, and keyboard focus stays on the explanation after a vote."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE


def enter(page: Page, room: str) -> None:
    expect(page.locator("#me")).to_contain_text("pts")
    page.get_by_label("Room code").fill(room)
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#clues .snippet").first).to_be_visible()


def test_explanation_box_in_reach_and_focus_kept_after_a_vote(
    real_page: Callable[..., Page], real_neurons: list[int]
) -> None:
    alice, bob = real_page(viewport=PHONE), real_page()
    enter(alice, "keys")
    enter(bob, "keys")
    # All clues shown, the box starts within two phone screens (it was 1,450 px down).
    box = alice.get_by_label("This neuron fires on…").bounding_box()
    assert box is not None and box["y"] < 2 * PHONE["height"], box
    bob.get_by_label("This neuron fires on…").fill("the verb come")
    bob.get_by_role("button", name="Submit", exact=True).click()
    vote = alice.locator("#explanations li[data-expl] button.vote").first
    expect(vote).to_be_enabled()
    row = vote.locator("xpath=ancestor::li[1]").get_attribute("data-expl")
    vote.focus()
    alice.keyboard.press("Enter")
    expect(
        alice.locator("#explanations button.vote.voted, #explanations button.vote[disabled]").first
    ).to_be_visible()
    focused = alice.evaluate("document.activeElement.closest('li[data-expl]')?.dataset.expl ?? null")
    assert focused == row, f"focus went to {alice.evaluate('document.activeElement.tagName')}"
