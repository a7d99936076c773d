"""Display text: each token as a reader sees it, for every tokenizer, from this one place.

A record keeps the tokens the model saw (``tokens``); every view shows ``display`` instead, a
list of the same length whose strings, joined, read as text: words separated, pieces of one
word together, model plumbing ([CLS], [SEP], <s>, </s>, <|endoftext|>, <pad>...) empty.

Three ways in, best first:

- ``display_from_offsets``: the tokenizer's offset mapping into the text it encoded — exact
  (the player's own casing and spacing); used where the text is at hand (advanced mode).
- ``display_from_tokenizer``: the tokenizer's ``convert_tokens_to_string`` over growing
  prefixes of the tokens, its ``all_special_tokens`` blanked.
- ``record_display``: what mining kept of the corpus's text at the tokenizer's offsets (the
  offsets way, done once when a campaign is mined), else:
- ``display_tokens``: stored token strings without a tokenizer (the web process serving a
  campaign mined before display text existed), with the decoder of the scheme the campaign's
  model uses, from the ``tokenizers`` library: WordPiece (``##`` continues a word), byte-level
  BPE (``Ġ`` space, ``Ċ`` newline) or SentencePiece (``▁``); campaigns of GPT-2 and Llama
  models store tokens already decoded one by one (" the"), which read as they are.

The prefix method hands each token the text its arrival adds to the decoded string, so the
pieces of a character split over byte-level tokens land, whole, on the token that completes
it. WordPiece cannot say whether "3 . 5" or "don ' t" had spaces; ``_wordpiece_glue`` joins
the cases where a reader can tell (a decimal point between digits, a contraction, a colon or a
bracket, which English sets against its word).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from tokenizers import decoders

WORDPIECE, BYTE_LEVEL, SENTENCEPIECE, DECODED = "wordpiece", "bytelevel", "sentencepiece", "decoded"
SCHEMES = (WORDPIECE, BYTE_LEVEL, SENTENCEPIECE, DECODED)

# Special tokens of the tokenizers this project loads, for when no tokenizer is at hand.
KNOWN_SPECIALS = frozenset(
    {"[CLS]", "[SEP]", "[PAD]", "[MASK]", "<s>", "</s>", "<pad>", "<mask>", "<bos>", "<eos>", "<|endoftext|>"}
)
_SPECIAL_SHAPE = re.compile(r"^<\|[^|<>\s]{1,40}\|>$")  # <|im_start|>, <|begin_of_text|> ...
UNKNOWN = "\ufffd"  # [UNK] / <unk> stand for a character the vocabulary lacks
_CONTRACTIONS = frozenset({"t", "s", "m", "d", "ll", "re", "ve"})


def is_special(token: str, specials: frozenset[str] = KNOWN_SPECIALS) -> bool:
    return token in specials or bool(_SPECIAL_SHAPE.match(token))


@lru_cache(maxsize=8)
def _decoder(scheme: str) -> Any:
    if scheme == WORDPIECE:
        return decoders.WordPiece(prefix="##", cleanup=True)
    if scheme == BYTE_LEVEL:
        return decoders.ByteLevel()
    if scheme == SENTENCEPIECE:
        return decoders.Metaspace(replacement="▁", prepend_scheme="always")
    raise ValueError(f"unknown token scheme {scheme!r}: one of {', '.join(SCHEMES)}")


def prefix_pieces(tokens: Sequence[str], decode: Callable[[list[str]], str]) -> list[str]:
    """Per token, the text its arrival adds to ``decode(tokens[:i + 1])``; joined, they give
    ``decode(tokens)``. When a later token rewrites the end of the text (a character completed
    by its last byte), the rewritten characters are taken back from the tokens that held them."""
    pieces: list[str] = []
    text = ""
    for i in range(len(tokens)):
        now = decode(list(tokens[: i + 1]))
        keep = len(text)
        if not now.startswith(text):
            keep = next(
                (k for k, (a, b) in enumerate(zip(text, now, strict=False)) if a != b),
                min(len(text), len(now)),
            )
            surplus = len(text) - keep
            for j in range(len(pieces) - 1, -1, -1):
                if surplus <= 0:
                    break
                cut = min(surplus, len(pieces[j]))
                pieces[j] = pieces[j][: len(pieces[j]) - cut]
                surplus -= cut
        pieces.append(now[keep:])
        text = now
    return pieces


# WordPiece loses the spaces around punctuation; these marks sit against the word before
# them ("worry:", "3.5%", "(ok)") or the word after them ("(ok", "$5") in English prose.
# Straight quotes stay spaced: inside a snippet that may start mid-quote, whether one opens
# or closes cannot be told.
_CLOSERS = frozenset({";", ":", ")", "]", "}", "%", "!", "?"})
_OPENERS = frozenset({"(", "[", "{", "$", "#"})


def _wordpiece_glue(pieces: list[str]) -> list[str]:
    """Join what WordPiece spaced out but a reader reads as one: 3.5, 1,000, 10:30, don't,
    it's, "worry:", "(ok)" and "3.5%"."""
    out = list(pieces)
    for i in range(1, len(out) - 1):
        mid, before, after = out[i].strip(), out[i - 1].strip(), out[i + 1].strip()
        digits = mid in {".", ",", ":"} and before[-1:].isdigit() and after[:1].isdigit()
        contraction = mid == "'" and before[-1:].isalpha() and after in _CONTRACTIONS
        if (digits or contraction) and out[i + 1].startswith(" "):
            out[i] = mid
            out[i + 1] = out[i + 1][1:]
    for i, piece in enumerate(out):
        mark = piece.strip()
        if mark in _CLOSERS and piece.startswith(" ") and i > 0 and out[i - 1].strip():
            out[i] = piece[1:]
        if mark in _OPENERS and i + 1 < len(out) and out[i + 1].startswith(" ") and out[i + 1].strip():
            out[i + 1] = out[i + 1][1:]
    return out


def _first_without_space(pieces: list[str]) -> list[str]:
    """No leading space on the first piece a reader sees."""
    out = list(pieces)
    for i, piece in enumerate(out):
        if piece:
            out[i] = piece.lstrip(" ")
            break
    return out


def display_tokens(tokens: Sequence[str], scheme: str | None = None) -> list[str]:
    """Display text of stored token strings; ``scheme`` as ``scheme_for_model`` says, or guessed."""
    scheme = scheme or guess_scheme(tokens)
    visible = [not is_special(t) for t in tokens]
    kept = [(UNKNOWN if t in {"[UNK]", "<unk>"} else t) for t, v in zip(tokens, visible, strict=True) if v]
    if scheme == DECODED:
        shown = list(kept)
    else:
        decoder = _decoder(scheme)
        if scheme == WORDPIECE and kept and kept[0].startswith("##"):
            # A mined window may start inside a word; the decoder keeps "##" on a first piece.
            kept[0] = kept[0][2:]
        shown = prefix_pieces(kept, decoder.decode)
        if scheme == WORDPIECE:
            shown = _wordpiece_glue(shown)
    shown = _first_without_space(shown) if scheme != DECODED else shown
    it = iter(shown)
    return [next(it) if v else "" for v in visible]


def record_display(
    tokens: Sequence[str], stored: Sequence[str] | None, scheme: str | None = None
) -> list[str]:
    """A stored record's display text: the one mining kept from the corpus's own text (exact
    hyphens, quotes and casing) when it fits the tokens, else ``display_tokens``'s."""
    if stored is not None and len(stored) == len(tokens) and all(isinstance(p, str) for p in stored):
        return _first_without_space(list(stored))
    return display_tokens(tokens, scheme)


def guess_scheme(tokens: Sequence[str]) -> str:
    """The scheme stored tokens look like, when the model that made them is not known."""
    if any(("Ġ" in t or "Ċ" in t) for t in tokens):
        return BYTE_LEVEL
    if any(t.startswith("▁") for t in tokens):
        return SENTENCEPIECE
    if any(t[:1].isspace() for t in tokens if not is_special(t)):
        return DECODED
    return WORDPIECE  # "##" pieces, or whole words with no spaces: WordPiece spacing reads best


def scheme_for_model(model: str) -> str:
    """How a campaign of ``model`` stored its tokens (see NeuronModel.token_strings): BERT-family
    models keep WordPiece pieces; GPT-2 and Llama models keep each token decoded on its own."""
    from engine.models.registry import GPT2_NAMES, MINILM, SMOLLM2, ModelError, family_of_dir

    if model == MINILM:
        return WORDPIECE
    if model in GPT2_NAMES or model == SMOLLM2:
        return DECODED
    try:
        from pathlib import Path

        path = Path(model).expanduser()
        if path.is_dir():
            return WORDPIECE if family_of_dir(path) == "bert" else DECODED
    except (ModelError, OSError):
        pass
    return ""  # unknown: display_tokens guesses from the tokens


def display_from_tokenizer(tokenizer: Any, tokens: Sequence[str]) -> list[str]:
    """Display text of raw tokens (``convert_ids_to_tokens``) by the tokenizer's own decoding."""
    specials = frozenset(getattr(tokenizer, "all_special_tokens", ()))
    visible = [t not in specials for t in tokens]
    kept = [t for t, v in zip(tokens, visible, strict=True) if v]
    shown = _first_without_space(prefix_pieces(kept, tokenizer.convert_tokens_to_string))
    if isinstance(
        getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None), decoders.WordPiece
    ):
        shown = _wordpiece_glue(shown)
    it = iter(shown)
    return [next(it) if v else "" for v in visible]


def display_from_offsets(text: str, offsets: Sequence[tuple[int, int]], special: Sequence[bool]) -> list[str]:
    """Exact display text from the tokenizer's offset mapping into ``text``: each token shows the
    text from the end of the previous one to its own end (the space before it included);
    tokens that share a character (byte-level pieces of one) show it on the first of them."""
    out: list[str] = []
    done = 0
    first = True
    for (start, end), is_sp in zip(offsets, special, strict=True):
        if is_sp or end <= done:
            out.append("")
            continue
        piece = text[(start if first else done) : end]
        out.append(piece)
        done, first = end, False
    return out
