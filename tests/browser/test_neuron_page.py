"""The neuron page runs on the shared modules (client/js/dom.js: el, fmt, the histogram chart)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from config.settings import Settings
from tests.browser.conftest import HISTOGRAM


def test_the_neuron_page_shows_stats_histogram_and_records(
    new_page: Callable[..., Page], game_settings: Settings, neurons: list[int]
) -> None:
    page = new_page(path=f"/neurons/{game_settings.default_campaign}/0")
    expect(page.locator("#title")).to_have_text("Neuron 0")
    expect(page.locator("#stats")).to_contain_text("3.200")  # max activation, three digits
    expect(page.locator("#histogram rect")).to_have_count(len(HISTOGRAM))  # linear, one bar per bin
    expect(page.locator("#top-records .record").first).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    # Nothing written about it yet: the lists say so rather than stand empty under their headings.
    none = "No explanations yet: play this neuron and write the first."
    expect(page.locator("#explanations .empty-note")).to_have_text(none)
    expect(page.locator("#history .empty-note")).to_have_text("Nothing written yet.")
