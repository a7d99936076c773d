"""A whole round on the REAL default campaign (MiniLM-L6 layer 3, WordPiece tokens mined from the
bundled corpus), three players, the real scoring job; the result screen; the stream overlay.

Every page is checked as a reader sees it: no visible ``##``, ``[CLS]`` or ``[SEP]``, words
separated exactly as engine/display_text.py says, nothing wider than the viewport at 390 px
and at 1920 px."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from config.settings import Settings
from tests.browser.conftest import PHONE, GameServer, shoot
from tests.browser.test_streamer import HOST_SCRIPT

WIDE = {"width": 1920, "height": 1080}
RAW_MARKS = ("##", "[CLS]", "[SEP]", "[PAD]", "<s>", "</s>")

# What sticks out past the viewport's right edge, ignoring what sits inside a scrolling or
# clipping box (the phone nav scrolls sideways on purpose; .sr-only text is clipped to 1 px).
OVERFLOW_JS = """() => {
  const w = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (["auto", "scroll", "hidden", "clip"].includes(s.overflowX)) return true;
    }
    return false;
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (!r.width || getComputedStyle(el).visibility === "hidden") continue;
    // Only the right edge: the skip link waits off-screen to the left on purpose.
    if (r.right > w + 1 && !clipped(el)) bad.push(`${el.tagName}.${el.className}: ${Math.round(r.right)}`);
  }
  return { scroll: document.documentElement.scrollWidth, width: w, bad: bad.slice(0, 8) };
}"""


# A word's pieces and the punctuation on it sit on one line in the score charts: each
# .cmp-word holds one word's columns, and no two of its columns are on different lines
# (unless the word is wider than the row, a long URL); a new group starts only at a space.
WORDS_WHOLE_JS = """(root) => {
  const bad = [];
  for (const row of document.querySelectorAll(root + ' .cmp-row')) {
    const width = row.getBoundingClientRect().width;
    const groups = [...row.children];
    groups.forEach((word, i) => {
      const toks = [...word.querySelectorAll('.cmp-tok')];
      const tops = new Set(toks.map((t) => Math.round(t.getBoundingClientRect().top)));
      const fits = word.getBoundingClientRect().width < width - 1;
      if (tops.size > 1 && fits) bad.push('broken: ' + word.textContent);
      // A group starts only where the text had a space, and that space is the gap before it,
      // never text that would indent a wrapped line.
      if (i > 0 && word.dataset.gap !== 'space') bad.push('parted: ' + word.textContent);
      const first = toks[0].querySelector('.cmp-text').textContent;
      if (/^\\s/.test(first) && first.trim()) bad.push('indented: ' + word.textContent);
      const before = i > 0 ? groups[i - 1].getBoundingClientRect() : null;
      const box = word.getBoundingClientRect();
      if (before && Math.abs(before.bottom - box.bottom) < 2 && box.left - before.right < 4) {
        bad.push('no space before: ' + word.textContent);
      }
    });
  }
  return bad;
}"""


# A clue shown as a window of its record starts at a word: after the "…", the first token
# has the space before it (WordPiece's "##s" or an apostrophe's "t" never opens a clue). A
# record that mining itself cut inside a word says so with its own "…" (cut-word).
CLUES_START_AT_WORDS_JS = """() => [...document.querySelectorAll('#clues .snippet .toks')]
  .filter((t) => t.firstElementChild && t.firstElementChild.classList.contains('cut-window'))
  .map((t) => t.querySelector('.tok').textContent)
  .filter((first) => !/^\\s/.test(first))"""


CUT_BEFORE_JS = """async () => {
  const { cutBefore } = await import('/static/js/tokens.js');
  const cls = ['[CLS]', 'the', 'cat', '[SEP]'], shownCls = ['', 'the', ' cat', ''];
  return [
    cutBefore(['[CLS]', '##gged', 'program'], ['', 'gged', ' program'], 0),
    cutBefore(cls, shownCls, 0), cutBefore(cls, shownCls, 1), cutBefore(cls, shownCls, 2),
    cutBefore(['##gged', 'program'], null, 1),
  ];
}"""


@pytest.fixture
def real_settings(game_settings: Settings) -> Settings:
    # The result is read for 300 s of the test's clock (the reveal's reading time), then the
    # next round starts; the test moves the clock. Long, so that a loaded machine checking
    # three pages never sees the result screen leave on its own.
    return game_settings.model_copy(
        update={"default_campaign": "minilm-l6-layer3", "room_reveal_min_s": 300.0}
    )


def assert_readable(page: Page, where: str = "body") -> str:
    """The visible text of ``where``: no raw token marks, no runs of glued words."""
    text = page.locator(where).first.inner_text()
    for mark in RAW_MARKS:
        assert mark not in text, f"{mark!r} visible in {where}: {text[:300]!r}"
    glued = re.findall(r"[A-Za-z]{25,}", text)
    assert not glued, f"words run together in {where}: {glued[:3]}"
    return text


def assert_fits(page: Page) -> None:
    found = page.evaluate(OVERFLOW_JS)
    assert found["scroll"] <= found["width"] and not found["bad"], found


def join(page: Page, room: str) -> None:
    page.get_by_label("Room code").fill(room)
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#phase")).to_have_text("Round 1")


def test_three_players_a_whole_round_and_its_result_on_the_real_campaign(
    real_page: Callable[..., Page],
    real_server: GameServer,
    real_neurons: list[int],
    run_jobs: Callable[[], None],
) -> None:
    alice, bob, cy = real_page(), real_page(viewport=PHONE), real_page(viewport=WIDE)
    for page in (alice, bob, cy):
        join(page, "real")
    expect(alice.locator("#members li")).to_have_count(3)
    expect(alice.locator("#clues .snippet").first).to_be_visible()
    title = alice.locator("#neuron-title").inner_text()
    assert re.fullmatch(r"Neuron \d+", title), title  # no campaign id on the game screen
    neuron_id = real_neurons[int(title.split()[1])]

    # The clue reads exactly as the engine's display text: open the first one in full.
    first = alice.locator("#clues .snippet").first
    if first.get_by_role("button", name="more context").count():
        first.get_by_role("button", name="more context").click()
    url = f"/api/v1/neurons/{neuron_id}/activations?kind=top&limit=1"
    record = alice.evaluate(f"fetch('{url}').then(r => r.json())")["items"][0]
    assert first.locator(".toks").text_content() == "".join(record["display"])
    assert "##" not in "".join(record["display"])
    for page in (alice, bob, cy):
        assert_readable(page)
        assert_fits(page)
    assert alice.evaluate(CLUES_START_AT_WORDS_JS) == []
    shoot(bob, "phone-round")

    # Three explanations, each voted for by another player.
    texts = {
        alice: "punctuation and quotes in dialogue",
        bob: "words about people",
        cy: "the end of a sentence",
    }
    for page, text in texts.items():
        page.get_by_label("This neuron fires on…").fill(text)
        page.get_by_role("button", name="Submit").click()
        expect(page.locator(".expl.mine", has_text=text)).to_have_count(1)
    for voter, target in ((alice, bob), (bob, cy), (cy, alice)):
        item = voter.locator(".expl", has_text=texts[target])
        item.get_by_role("button", name="vote for").click()
        expect(item.locator(".vote")).to_have_attribute("aria-pressed", "true")
    run_jobs()  # the real scoring job, real simulator, on the real records
    expect(alice.locator(".expl .score .fit-value")).to_have_count(3, timeout=30_000)

    # Everyone has submitted and voted, so the round has ended early (no clock move: a jump
    # past the reveal would start the next round): the result screen, at the top, for everyone.
    expect(alice.locator("#feed")).to_contain_text("the round ends early")
    expect(alice.locator("#feed")).not_to_contain_text("Time is up")  # the clock had not run out
    for page in (alice, bob, cy):
        result = page.locator("#result")
        expect(result).to_be_visible()
        expect(result.locator(".entry")).to_have_count(3)
        expect(result.locator(".result-status")).to_have_text("Points are added when this result closes")
        # Every score is in: the pill says so too, not "Scoring" over a finished result.
        expect(page.locator("#phase")).to_have_text("Result")
        expect(page.locator("#explanation")).to_have_attribute("placeholder", "Wait for the next round…")
        for text in texts.values():
            row = result.locator(".entry", has_text=text)
            expect(row.locator(".fit-value")).to_have_text(re.compile(r"^-?\d{1,3}$"))
            expect(row.locator(".votes")).to_have_text("1 vote")
        expect(result.locator(".podium .step")).to_have_count(3)
        expect(result.locator(".round-points tbody tr")).to_have_count(3)
    result = alice.locator("#result")
    # Every player's points with the reasons; the winner's voter and the first explanation earn.
    expect(result.locator(".round-points")).to_contain_text("first explanation of this neuron")
    expect(result.locator(".round-points")).to_contain_text("voted for the winner")
    expect(result.locator(".entry-points").first).to_contain_text("+")
    # The winner, with the three snippets that best show why, and the rest on demand.
    winner = result.locator(".winner")
    expect(winner.locator(".compare")).to_have_count(3, timeout=20_000)
    more = winner.get_by_role("button", name=re.compile(r"Show the other \d+ snippets"))
    expect(more).to_be_visible()
    assert winner.bounding_box()["height"] < 2500  # type: ignore[index]
    for page in (alice, bob, cy):
        expect(page.locator("#result .winner .compare")).to_have_count(3, timeout=20_000)
        text = assert_readable(page)
        assert "AUC" not in text and "minilm-l6-layer3" not in text and "emb-" not in text
        assert_fits(page)
    # A negative fit is never drawn green (the fit colours come from result.css).
    colours = alice.evaluate(
        """() => [...document.querySelectorAll('#result .fit-value')].map(
          v => [v.textContent, getComputedStyle(v).color])"""
    )
    green = "rgb(79, 214, 156)"
    assert all(not (int(v) < 0 and c == green) for v, c in colours), colours
    shoot(cy, "round-result", full_page=True)
    shoot(bob, "phone-result", full_page=True)
    assert bob.locator("#result .winner .cmp-word").count() > 0
    assert bob.evaluate(WORDS_WHOLE_JS, "#result .winner") == []
    # A record mined from inside a word opens with "…" (not "gged program"), on a clue and in
    # the score charts; a window's own cut says "…" as before; [CLS] before it hides nothing.
    assert bob.evaluate(CUT_BEFORE_JS) == ["word", "", "", "window", "window"]
    more.click()
    expect(winner.locator(".compare")).not_to_have_count(3)
    assert_readable(alice)
    shoot(alice, "round-reveal")

    # The next round starts clean: no result, no reveal.
    real_server.clock.advance(301)
    expect(alice.locator("#phase")).to_have_text("Round 2")
    for page in (alice, bob, cy):
        expect(page.locator("#result")).to_be_hidden()
        expect(page.locator("#reveal")).to_be_hidden()
    round_two = alice.locator("#neuron-title").inner_text()
    assert round_two != title
    # A draft never follows the player to the next neuron: typed, not sent, the round ends.
    alice.get_by_label("This neuron fires on…").fill("a draft for the old neuron")
    real_server.clock.advance(61)
    expect(alice.locator("#phase")).to_have_text("Result")  # nobody wrote: nothing to score
    real_server.clock.advance(301)
    expect(alice.locator("#phase")).to_have_text("Round 3")
    expect(alice.get_by_label("This neuron fires on…")).to_have_value("")
    assert alice.locator("#neuron-title").inner_text() != round_two
    alice.get_by_role("button", name="Submit").click()
    expect(alice.locator("#explain-error")).to_have_text("Write a few words first.")
    expect(alice.locator(".expl", has_text="a draft for the old neuron")).to_have_count(0)


def test_advanced_mode_shows_the_typed_text_without_special_tokens(
    real_page: Callable[..., Page], real_server: GameServer, run_jobs: Callable[[], None]
) -> None:
    page = real_page()
    join(page, "adv")
    page.locator("#advanced summary").click()
    page.get_by_label("Text to test on this neuron").fill("Don't panic: the postnews arrived.")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-result .computing")).to_be_visible()
    run_jobs()
    toks = page.locator("#test-result .toks")
    expect(toks).to_have_text("Don't panic: the postnews arrived.", timeout=30_000)
    assert_readable(page, "#test-result")
    shoot(page, "advanced-mode")


def test_the_stream_overlay_reads_as_text_on_the_real_campaign(
    real_page: Callable[..., Page], real_server: GameServer, run_jobs: Callable[[], None]
) -> None:
    host = real_page(path="/static/css/style.css")  # the host is a protocol client in a page
    code = host.evaluate(HOST_SCRIPT)
    host.evaluate("window.__host.ws.send(JSON.stringify({type: 'start'}))")
    overlay = real_page(viewport=WIDE, path=f"/static/overlay.html?room={code}")
    expect(overlay.locator("#clues li").first).to_be_visible()
    expect(overlay.locator("#neuron")).to_have_text(re.compile(r"^Neuron \d+"))
    text = assert_readable(overlay, "#overlay")
    assert " " in text
    cut = overlay.evaluate(
        """() => [...document.querySelectorAll('#clues li')]
          .filter((li) => li.firstElementChild?.classList.contains('cut-window'))
          .map((li) => li.querySelector('.tok').textContent).filter((first) => !/^\\s/.test(first))"""
    )
    assert cut == []  # a clue's window starts at a word here too
    player = real_page(viewport=PHONE)
    player.get_by_label("Room code").fill(code)
    player.get_by_role("button", name="Join", exact=True).click()
    expect(player.locator("#phase")).to_have_text(re.compile(r"Round \d"))
    player.get_by_label("This neuron fires on…").fill("quotation marks")
    player.get_by_role("button", name="Submit").click()
    expect(overlay.locator("#explanations li", has_text="quotation marks")).to_have_count(1)
    run_jobs()
    expect(overlay.locator("#explanations li", has_text="fit")).to_have_count(1, timeout=30_000)
    real_server.clock.advance(61)
    expect(overlay.locator("#result-box")).to_be_visible()
    expect(overlay.locator("#podium li")).to_have_count(1)
    assert_readable(overlay, "#overlay")
    assert_fits(overlay)
    shoot(overlay, "overlay")
    overlay.set_viewport_size(PHONE)
    assert_fits(overlay)
