"""Display text on the real tokenizers: MiniLM's WordPiece, a GPT-2 byte-level BPE built here,
a SentencePiece (Metaspace) one built here, and SmolLM2's when it has been pulled."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from engine.activations import text_activations
from engine.display_text import (
    BYTE_LEVEL,
    DECODED,
    SENTENCEPIECE,
    WORDPIECE,
    display_from_offsets,
    display_from_tokenizer,
    display_tokens,
    guess_scheme,
    prefix_pieces,
    scheme_for_model,
)
from engine.models import load_model
from engine.models.registry import minilm_dir
from tests.model_fixtures import SENTENCES, build_tokenizer, tiny_gpt2_dir

__all__ = ["tiny_gpt2_dir"]  # fixture, imported for pytest

SPECIAL_MARKS = ("##", "[CLS]", "[SEP]", "<s>", "</s>", "<|endoftext|>", "<pad>", "Ġ", "▁", "Ċ")


@pytest.fixture(scope="module")
def minilm() -> PreTrainedTokenizerFast:
    return AutoTokenizer.from_pretrained(minilm_dir())


def _assert_clean(display: list[str]) -> None:
    for piece in display:
        assert not any(mark in piece for mark in SPECIAL_MARKS), piece


# -- WordPiece (MiniLM) -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The issue's own examples: glued words and raw "##" pieces.
        ("to your terminal right away", "to your terminal right away"),
        ("postnews toyourterminal", "postnews toyourterminal"),
        (
            "He said, don't worry: it's 3.5% of 1,000 (ok).",
            "he said, don't worry: it's 3.5% of 1,000 (ok).",
        ),
        ("Meet at 10:30; bring $5 [or more]!", "meet at 10:30; bring $5 [or more]!"),
        ('She said "yes" (twice)', 'she said " yes " (twice)'),  # a quote's side is not known
        ("Naïve café", "naive cafe"),
    ],
)
def test_wordpiece_pieces_read_as_words(minilm: PreTrainedTokenizerFast, text: str, expected: str) -> None:
    tokens = minilm.convert_ids_to_tokens(minilm(text)["input_ids"])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    display = display_tokens(tokens, WORDPIECE)
    assert len(display) == len(tokens)
    assert display[0] == display[-1] == ""  # special tokens are never shown
    assert "".join(display) == expected
    _assert_clean(display)
    # Without a tokenizer (stored tokens) the result is the tokenizer's own decoding.
    assert display == display_from_tokenizer(minilm, tokens)


def test_wordpiece_continuations_join_and_words_are_separated(minilm: PreTrainedTokenizerFast) -> None:
    tokens = minilm.convert_ids_to_tokens(minilm("postnews", add_special_tokens=False)["input_ids"])
    assert any(t.startswith("##") for t in tokens)  # really split into pieces
    display = display_tokens(["the", *tokens, "is", "here"], WORDPIECE)
    assert "".join(display) == "the postnews is here"
    assert display[1] == " post" and all(not d.startswith(" ") for d in display[2:-2])


def test_minilm_offsets_give_the_typed_text() -> None:
    model = load_model("minilm-l6", device="cpu")
    text = "He said: it's 3.5% (ok)\nnew line"
    answer = text_activations(model, 3, 5, text)
    assert answer["tokens"][0] == "[CLS]" and answer["tokens"][-1] == "[SEP]"
    assert len(answer["display"]) == len(answer["tokens"])
    assert "".join(answer["display"]) == text  # casing and spaces as typed
    assert answer["display"][0] == answer["display"][-1] == ""


# -- byte-level BPE (GPT-2 built locally) --------------------------------------------------
def test_gpt2_byte_level_tokens(tmp_path: Path) -> None:
    tok = build_tokenizer(tmp_path)
    text = "The cat sat on the mat.\nNumbers like 12, 345 — and café!"
    ids = tok(text)["input_ids"]
    raw = tok.convert_ids_to_tokens(ids)
    assert any(t.startswith("Ġ") for t in raw) and "Ċ" in "".join(raw)
    for display in (display_tokens(raw, BYTE_LEVEL), display_from_tokenizer(tok, raw), display_tokens(raw)):
        assert "".join(display) == text
        _assert_clean(display)
    # A character split over byte tokens shows whole, on the token that completes it.
    pieces = display_tokens(raw, BYTE_LEVEL)
    assert "é" in pieces and "\ufffd" not in "".join(pieces)
    with_bos = display_tokens(["<|endoftext|>", *raw], BYTE_LEVEL)
    assert with_bos[0] == "" and "".join(with_bos) == text


def test_gpt2_campaign_tokens_are_stored_decoded(tiny_gpt2_dir: Path) -> None:
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    text = SENTENCES[0]
    stored = model.tokenize(text)  # what mining and advanced mode keep: BOS + tokens decoded one by one
    assert stored[0] == "<|endoftext|>"
    assert scheme_for_model(str(tiny_gpt2_dir)) == DECODED
    display = display_tokens(stored, scheme_for_model(str(tiny_gpt2_dir)))
    assert display[0] == "" and "".join(display) == text
    answer = text_activations(model, 1, 2, text)
    assert "".join(answer["display"]) == text and answer["display"][0] == ""


# -- SentencePiece (Metaspace, built locally) -----------------------------------------------
def test_sentencepiece_tokens(tmp_path: Path) -> None:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(
        SENTENCES * 4, trainer=trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"])
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    text = "The cat sat on the mat and looked at the dog."
    raw = ["<s>", *fast.convert_ids_to_tokens(fast(text, add_special_tokens=False)["input_ids"]), "</s>"]
    assert any(t.startswith("▁") for t in raw)
    assert guess_scheme(raw) == SENTENCEPIECE
    for display in (display_tokens(raw, SENTENCEPIECE), display_from_tokenizer(fast, raw)):
        assert "".join(display) == text
        assert display[0] == display[-1] == ""
        _assert_clean(display)


# -- SmolLM2 (byte-level BPE, Llama family), only where it was pulled ----------------------
def _smollm2_dir() -> Path | None:
    # Where `neuronquest models pull smollm2-135m` puts it with the default data dir.
    path = Path(__file__).resolve().parents[2] / "data" / "models" / "smollm2-135m"
    return path if (path / "tokenizer.json").is_file() else None


def test_smollm2_tokens() -> None:
    path = _smollm2_dir()
    if path is None:
        pytest.skip(
            "SmolLM2 is not pulled (neuronquest models pull smollm2-135m): its tokenizer is not offline"
        )
    tok = AutoTokenizer.from_pretrained(path)
    text = 'He said, "don\'t you think?" Naïve café — 東京\nnew line'
    ids = tok(text)["input_ids"]
    raw = tok.convert_ids_to_tokens(ids)
    assert "".join(display_from_tokenizer(tok, raw)) == text
    assert "".join(display_tokens(raw, BYTE_LEVEL)) == text
    offsets = tok(text, return_offsets_mapping=True)["offset_mapping"]
    assert "".join(display_from_offsets(text, offsets, [False] * len(offsets))) == text
    decoded = ["<|endoftext|>", *(tok.decode([i]) for i in tok("plain words here")["input_ids"])]
    assert display_tokens(decoded, scheme_for_model("smollm2-135m")) == ["", "plain", " words", " here"]


# -- the pieces ------------------------------------------------------------------------------
def test_prefix_pieces_give_back_rewritten_characters() -> None:
    # A decoder that only completes "é" once both halves arrived, like byte-level BPE.
    def decode(tokens: list[str]) -> str:
        return "".join(tokens).replace("e\u0301", "é").replace("\u0301", "\ufffd")

    pieces = prefix_pieces(["caf", "e", "\u0301", "!"], decode)
    assert "".join(pieces) == "café!"
    assert pieces == ["caf", "", "é", "!"]


def test_schemes_of_models_and_guesses() -> None:
    assert scheme_for_model("minilm-l6") == WORDPIECE
    assert scheme_for_model("gpt2") == scheme_for_model("smollm2-135m") == DECODED
    assert scheme_for_model("no-such-model") == ""
    assert guess_scheme(["Ġthe", "Ġcat"]) == BYTE_LEVEL
    assert guess_scheme(["the", " cat"]) == DECODED
    assert guess_scheme(["the", "cat", "##s"]) == WORDPIECE
    # Whole-word tokens with no spaces read best spaced out.
    assert "".join(display_tokens(["[CLS]", "the", "cat", "[SEP]"])) == "the cat"
    assert display_tokens(["a", "[UNK]", "b"], WORDPIECE) == ["a", " \ufffd", " b"]
    assert display_tokens([], WORDPIECE) == []


def test_a_window_that_starts_inside_a_word_shows_no_wordpiece_marks() -> None:
    # Mined 64-token windows start at any token, so the first one may continue a word.
    shown = display_tokens(["##ron", "knights", "of", "the", "round", "table"], "wordpiece")
    assert shown == ["ron", " knights", " of", " the", " round", " table"]
    assert display_tokens(["[CLS]", "##s", "cat"], "wordpiece") == ["", "s", " cat"]


def test_gpt2_windows_keep_the_corpus_text(tiny_gpt2_dir: Path, tmp_path: Path) -> None:
    """Mining's display text for byte-level BPE: every window's pieces are the corpus's own
    text, the blank line between documents the separator token's own "\\n\\n"."""
    from engine.corpus import corpus_windows

    model = load_model(str(tiny_gpt2_dir), device="cpu")
    docs = [SENTENCES[0], SENTENCES[1]]
    corpus = tmp_path / "two.txt"
    corpus.write_text("\n\n".join(docs) + "\n")
    cut = corpus_windows(model, corpus, window=4, family_friendly=False)
    assert cut.display is not None
    for ids, shown in zip(cut.ids.tolist(), cut.display, strict=True):
        assert len(shown) == len(ids)
        # Byte-level pieces decoded one by one are the same text, token for token.
        assert "".join(shown) == "".join(model.token_strings(ids))
    text = "".join("".join(d) for d in cut.display)
    assert text.startswith(docs[0] + "\n\n" + docs[1][:8])
