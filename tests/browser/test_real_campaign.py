"""The real default campaign (MiniLM WordPiece tokens) as players see it."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.real_campaign import MinedCampaign


def test_the_mined_campaign_is_real_wordpiece(minilm_mined: MinedCampaign) -> None:
    tokens = [t for s in minilm_mined.summaries for r in s.top for t in r.tokens]
    assert any(t.startswith("##") for t in tokens), "MiniLM's pieces continue words with ##"
    assert all(s.max_activation > 0 and len(s.top) == 20 for s in minilm_mined.summaries)
    # Each record keeps its window's text as the corpus wrote it, which is what players read.
    records = [r for s in minilm_mined.summaries for r in s.top]
    shown = ["".join(r.meta["display"]) for r in records]
    assert all(len(r.meta["display"]) == len(r.tokens) for r in records)
    assert not any("##" in t for t in shown)
    assert any(any(c.isupper() for c in t) for t in shown), "the writer's casing, not the tokens' lower case"
    print(f"mined {minilm_mined.tokens_seen} tokens in {minilm_mined.seconds:.1f} s")


def test_the_real_campaign_serves_a_round(real_page: Callable[..., Page], real_neurons: list[int]) -> None:
    page = real_page()
    page.get_by_label("Room code").fill("real")
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#phase")).to_have_text("Round 1")
    expect(page.locator("#clues .snippet").first).to_be_visible()
