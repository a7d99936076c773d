"""Mining keeps exactly what a brute-force pass over the same windows finds."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from engine.corpus import DEFAULT_CORPUS, CorpusError, make_windows, read_documents
from engine.mining import HIST_BINS, Miner, MiningInterrupted
from engine.models import NeuronModel, load_model

LAYER = 3
NEURONS = range(100, 140)


@pytest.fixture(scope="module")
def minilm() -> NeuronModel:
    return load_model("minilm-l6", device="cpu")


@pytest.fixture(scope="module")
def windows(minilm: NeuronModel) -> torch.Tensor:
    # 64 windows of 64 tokens from the shipped corpus: small, real text.
    return make_windows(minilm, None, window=64, max_tokens=64 * 64)


@pytest.fixture(scope="module")
def brute(minilm: NeuronModel, windows: torch.Tensor) -> torch.Tensor:
    """Every activation [window, token, neuron], one window at a time (no batching)."""
    return torch.cat(
        [minilm.window_activations(windows[i : i + 1], LAYER, NEURONS) for i in range(len(windows))]
    )


def _mine(minilm: NeuronModel, windows: torch.Tensor, **kw):  # type: ignore[no-untyped-def]
    return Miner(minilm, windows, LAYER, NEURONS, batch_size=kw.pop("batch_size", 12), **kw)


def test_top_k_equals_brute_force(minilm: NeuronModel, windows: torch.Tensor, brute: torch.Tensor) -> None:
    summaries = _mine(minilm, windows).run()
    assert [s.index for s in summaries] == list(NEURONS)
    win_max = brute.amax(dim=1)  # [window, neuron]
    for i, s in enumerate(summaries):
        expected_vals, _ = win_max[:, i].sort(descending=True)
        got_vals = [r.max_activation for r in s.top]
        assert len(s.top) == 20
        assert got_vals == pytest.approx(expected_vals[:20].tolist(), abs=1e-4)
        for record in s.top:
            w = record.meta["window"]
            assert record.activations == pytest.approx(brute[w, :, i].tolist(), abs=1e-4)
            assert record.tokens == minilm.token_strings(windows[w].tolist())
        # Stats over every token.
        column = brute[:, :, i]
        assert s.max_activation == pytest.approx(column.max().item(), abs=1e-4)
        assert s.mean_activation == pytest.approx(column.mean().item(), abs=1e-4)
        assert s.frac_active == pytest.approx((column > 0).float().mean().item(), abs=1e-6)
        assert sum(s.histogram["counts"]) == column.numel()
        assert len(s.histogram["edges"]) == HIST_BINS + 1


def test_random_windows_are_a_seeded_sample(
    minilm: NeuronModel, windows: torch.Tensor, brute: torch.Tensor
) -> None:
    first = _mine(minilm, windows, seed=7).run()
    again = _mine(minilm, windows, seed=7, batch_size=32).run()
    other = _mine(minilm, windows, seed=8).run()
    ids = lambda s: [r.meta["window"] for r in s.random]  # noqa: E731
    assert [ids(s) for s in first] == [ids(s) for s in again]  # same seed, any batch size
    assert [ids(s) for s in first] != [ids(s) for s in other]
    for i, s in enumerate(first):
        assert len(s.random) == 20 and len(set(ids(s))) == 20
        for record in s.random:
            assert record.activations == pytest.approx(brute[record.meta["window"], :, i].tolist(), abs=1e-4)
    # Each neuron draws its own sample.
    assert len({tuple(ids(s)) for s in first}) > 1


def test_interrupted_build_resumes_to_the_same_result(
    minilm: NeuronModel, windows: torch.Tensor, tmp_path: Path
) -> None:
    ckpt = tmp_path / "c.ckpt"
    calls = {"n": 0}

    def stop_after_two() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(MiningInterrupted):
        _mine(minilm, windows, checkpoint=ckpt).run(should_stop=stop_after_two)
    assert ckpt.exists()
    progress = []
    resumed = _mine(minilm, windows, checkpoint=ckpt).run(on_progress=progress.append)
    assert progress[0].tokens == 3 * 12 * 64  # started after the two saved batches + the first new one
    assert progress[-1].tokens == progress[-1].total == windows.numel()
    straight = _mine(minilm, windows).run()
    for a, b in zip(resumed, straight, strict=True):
        assert [r.meta["window"] for r in a.top] == [r.meta["window"] for r in b.top]
        assert [r.meta["window"] for r in a.random] == [r.meta["window"] for r in b.random]
        assert a.histogram == b.histogram
        assert a.mean_activation == pytest.approx(b.mean_activation)


def test_checkpoint_of_another_build_is_refused(
    minilm: NeuronModel, windows: torch.Tensor, tmp_path: Path
) -> None:
    ckpt = tmp_path / "c.ckpt"
    with pytest.raises(MiningInterrupted):
        _mine(minilm, windows, checkpoint=ckpt).run(should_stop=lambda: True)
    with pytest.raises(ValueError, match="other settings or corpus"):
        Miner(minilm, windows[:50], LAYER, NEURONS, checkpoint=ckpt).run()
    assert ckpt.exists()  # nothing lost


def test_default_corpus_is_several_mb_of_prose() -> None:
    docs = list(read_documents(None))
    assert DEFAULT_CORPUS.stat().st_size < 3_000_000
    assert sum(len(d) for d in docs) > 2_500_000 and len(docs) > 10_000
    assert any("DICTIONARY" in d.upper() for d in docs)


def test_txt_and_jsonl_corpora(minilm: NeuronModel, tmp_path: Path) -> None:
    txt = tmp_path / "a.txt"
    txt.write_text("first paragraph\nstill first\n\n\nsecond one\n")
    assert list(read_documents(txt)) == ["first paragraph\nstill first", "second one"]
    jl = tmp_path / "b.jsonl.gz"
    with gzip.open(jl, "wt") as fh:
        fh.write(json.dumps({"text": "alpha beta"}) + "\n\n" + json.dumps({"text": "gamma", "id": 2}) + "\n")
    assert list(read_documents(jl)) == ["alpha beta", "gamma"]
    windows = make_windows(minilm, txt, window=2)
    assert windows.shape == (3, 2)  # 7 tokens: first paragraph still first second one -> 3 full windows


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"text": "ok"}\nnot json\n', "line 2: not JSON"),
        ("bad2.jsonl", '{"body": "no text"}\n', 'line 1: expected an object with a "text" string'),
        ("notes.md", "text", "unsupported type"),
        ("tiny.txt", "two words", "fewer than one 64-token window"),
    ],
)
def test_bad_corpora_are_clear_errors(
    minilm: NeuronModel, tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CorpusError, match=message):
        make_windows(minilm, path)


def test_missing_corpus_file(minilm: NeuronModel, tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not found"):
        make_windows(minilm, tmp_path / "nothing.txt")


def test_windows_carry_the_corpus_text_of_every_token(minilm, tmp_path: Path) -> None:
    """corpus_windows: the same ids as make_windows, and per token the corpus's own text (the
    space before it as one space), so WordPiece's lost spaces and lower case come back."""
    from engine.corpus import corpus_windows

    txt = tmp_path / "t.txt"
    txt.write_text('Non-programmers like e-mail; "Hi" (ok)\nat 10:30.\n\nNext\tdocument [here].\n')
    cut = corpus_windows(minilm, txt, window=4, family_friendly=False)
    assert torch.equal(cut.ids, make_windows(minilm, txt, window=4, family_friendly=False))
    assert cut.display is not None and len(cut.display) == cut.ids.shape[0]
    assert all(len(d) == 4 for d in cut.display)
    assert minilm.token_strings(cut.ids[0].tolist()) == ["non", "-", "programmers", "like"]
    assert cut.display[0] == [" Non", "-", "programmers", " like"]
    text = "".join("".join(d) for d in cut.display)
    # Documents meet at one space (WordPiece has no token for the blank line between them).
    assert text.startswith(' Non-programmers like e-mail; "Hi" (ok) at 10:30. Next document [here')
    assert corpus_windows(minilm, txt, window=4, family_friendly=False, with_display=False).display is None
