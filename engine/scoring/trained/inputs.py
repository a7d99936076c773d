"""The head's inputs that hold no trained weights: per record and per explanation, then batched.

A record's part (``RecordInput``) does not depend on the explanation and is computed once
per record (the simulator keeps it); an explanation's part (``ExplanationInput``) once per
explanation. The head pairs them by index (``Head.score(records, explanations, ri, ei)``),
so scoring E explanations on R records never copies a record's features E times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from engine.scoring.trained.features import HIDDEN, LAYERS
from engine.scoring.trained.structure import record_form, terms

K = len(LAYERS)
WINDOW = 2  # tokens either side in the window compared with the explanation (sense evidence)
# Words of an explanation that say how, not what: never compared as "the same word".
FUNCTION_WORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "when",
        "its",
        "as",
        "in",
        "of",
        "to",
        "a",
        "an",
        "or",
        "any",
        "word",
        "words",
        "meaning",
        "means",
        "sense",
        "kind",
        "after",
        "before",
        "inside",
        "between",
        "first",
        "last",
        "right",
        "left",
        "token",
        "tokens",
        "used",
        "like",
        "such",
    ]
)
_SUFFIXES = ("s", "es", "ed", "d", "ing")


def unit_layers(v: torch.Tensor) -> torch.Tensor:
    """(..., K * HIDDEN) -> (..., K, HIDDEN), unit length per layer."""
    return nn.functional.normalize(v.unflatten(-1, (K, HIDDEN)), dim=-1)


def stems(word: str) -> tuple[str, ...]:
    """The word and what it is with a plural / tense ending removed (banks -> bank)."""
    out = [word]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)])
    return tuple(out)


@dataclass
class RecordInput:
    words: list[str]  # lower-case token texts
    unit: torch.Tensor  # (T, K, HIDDEN)
    window: torch.Tensor  # (T, 2, HIDDEN) window means, layers 3 and 6, unit
    sentence: torch.Tensor  # (HIDDEN,) the record's mean last-layer state, unit
    word_vec: torch.Tensor  # (T, HIDDEN) each word alone, unit (embedding's word vector)
    form: torch.Tensor  # (T, FORM)
    opener: torch.Tensor  # (T,) enclosing opening mark's index, -1: none
    stems: list[tuple[str, ...]]  # per token, its word and stems (for the same-word evidence)
    vocabulary: frozenset[str]  # every word and stem in the record


@dataclass
class ExplanationInput:
    text: str
    raw: torch.Tensor  # (L, K*HIDDEN) word-piece states, [CLS] and [SEP] included
    words: torch.Tensor  # (L,) bool: a real word-piece (not [CLS]/[SEP])
    vector: torch.Tensor  # (HIDDEN,) embedding's sentence vector (mean of all pieces, unit)
    content: dict[str, torch.Tensor]  # content word -> (K, HIDDEN) its pieces' mean state, unit
    terms: tuple[frozenset[str], frozenset[str]]  # (quoted words, used words)


def record_input(
    words: list[str], tokens: Sequence[str], raw: torch.Tensor, word_vec: torch.Tensor
) -> RecordInput:
    raw = raw.float()
    form, opener = record_form(tokens)
    last = raw[:, (K - 1) * HIDDEN :]
    token_stems = [stems(w) for w in words]
    return RecordInput(
        words=words,
        stems=token_stems,
        vocabulary=frozenset(s for group in token_stems for s in group),
        unit=unit_layers(raw),
        window=torch.stack(
            [
                nn.functional.normalize(_window_mean(raw[:, k * HIDDEN : (k + 1) * HIDDEN], WINDOW), dim=-1)
                for k in (K - 2, K - 1)
            ],
            dim=1,
        ),
        sentence=nn.functional.normalize(last.mean(0), dim=-1),
        word_vec=word_vec.float(),
        form=form,
        opener=opener,
    )


def explanation_input(text: str, raw: torch.Tensor, piece_words: list[str]) -> ExplanationInput:
    return explanation_inputs([text], [raw], [piece_words])[0]


def explanation_inputs(
    texts: Sequence[str], raws: Sequence[torch.Tensor], piece_words: Sequence[list[str]]
) -> list[ExplanationInput]:
    """Explanations' inputs, the tensor work done once for all of them (a scoring call brings
    a dozen new ones; one by one, each paid ~20 small operations)."""
    raws = [r.float() for r in raws]
    padded = nn.utils.rnn.pad_sequence(raws, batch_first=True)  # (E, L, K*HIDDEN)
    lengths = [r.shape[0] for r in raws]
    unit = unit_layers(padded)
    # Every content word's pieces, averaged by one product: row c of `pick` holds 1/count at
    # the content word's pieces (flattened over the batch).
    keys: list[tuple[int, str]] = []
    pick_rows: list[int] = []
    pick_cols: list[int] = []
    pick_vals: list[float] = []
    width = padded.shape[1]
    for e, (n, pieces) in enumerate(zip(lengths, piece_words, strict=True)):
        spots: dict[str, list[int]] = {}
        for i, w in enumerate(pieces[:n]):
            if len(w) >= 3 and w not in FUNCTION_WORDS:
                spots.setdefault(w, []).append(e * width + i)
        for w, idx in spots.items():
            pick_rows.extend([len(keys)] * len(idx))
            pick_cols.extend(idx)
            pick_vals.extend([1.0 / len(idx)] * len(idx))
            keys.append((e, w))
    content: list[dict[str, torch.Tensor]] = [{} for _ in raws]
    if keys:
        pick = torch.zeros(len(keys), len(raws) * width)
        pick[pick_rows, pick_cols] = torch.tensor(pick_vals)
        means = (pick @ unit.flatten(0, 1).flatten(1)).unflatten(-1, (K, HIDDEN))
        means = nn.functional.normalize(means, dim=-1)  # (contents, K, HIDDEN)
        for (e, w), vec in zip(keys, means, strict=True):
            content[e][w] = vec
    last = padded[:, :, (K - 1) * HIDDEN :].sum(1) / torch.tensor(lengths, dtype=torch.float32)[:, None]
    vectors = nn.functional.normalize(last, dim=-1)
    out = []
    for e, (text, raw, n) in enumerate(zip(texts, raws, lengths, strict=True)):
        words = torch.zeros(n, dtype=torch.bool)
        words[1 : n - 1] = True
        if not words.any():
            words[:] = True
        out.append(
            ExplanationInput(
                text=text, raw=raw, words=words, vector=vectors[e], content=content[e], terms=terms(text)
            )
        )
    return out


def _window_mean(v: torch.Tensor, width: int) -> torch.Tensor:
    """(T, H) -> mean over the tokens within ``width`` either side (running sums)."""
    n = v.shape[0]
    sums = nn.functional.pad(torch.cumsum(v, dim=0), (0, 0, 1, 0))
    index = torch.arange(n)
    hi, lo = (index + width + 1).clamp(max=n), (index - width).clamp(min=0)
    return (sums[hi] - sums[lo]) / (hi - lo).unsqueeze(-1).float()


def pad(rows: list[torch.Tensor], value: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length (n_i, ...) rows into (B, max n, ...) and their lengths."""
    lengths = torch.tensor([r.shape[0] for r in rows])
    out = torch.full((len(rows), int(lengths.max()), *rows[0].shape[1:]), value, dtype=rows[0].dtype)
    for i, r in enumerate(rows):
        out[i, : r.shape[0]] = r
    return out, lengths


@dataclass
class Records:
    """R records padded to T tokens."""

    items: list[RecordInput]
    lengths: torch.Tensor
    valid: torch.Tensor  # (R, T) bool
    unit: torch.Tensor
    window: torch.Tensor
    sentence: torch.Tensor
    word_vec: torch.Tensor
    form: torch.Tensor
    opener: torch.Tensor
    vocabulary: list[str]  # the records' words, once each
    ids: torch.Tensor  # (R, T) each token's index in it (padding: len(vocabulary))

    @classmethod
    def of(cls, items: list[RecordInput]) -> Records:
        vocabulary = sorted({w for r in items for w in r.words})
        index = {w: i for i, w in enumerate(vocabulary)}
        unit, lengths = pad([r.unit for r in items])
        valid = torch.arange(unit.shape[1])[None, :] < lengths[:, None]
        return cls(
            items=items,
            lengths=lengths,
            valid=valid,
            unit=unit,
            window=pad([r.window for r in items])[0],
            sentence=torch.stack([r.sentence for r in items]),
            word_vec=pad([r.word_vec for r in items])[0],
            form=pad([r.form for r in items])[0],
            opener=pad([r.opener for r in items], value=-1)[0],
            vocabulary=vocabulary,
            ids=pad([torch.tensor([index[w] for w in r.words], dtype=torch.long) for r in items], len(index))[
                0
            ],
        )


@dataclass
class Explanations:
    """E explanations padded to L word-pieces."""

    items: list[ExplanationInput]
    raw: torch.Tensor
    unit: torch.Tensor  # (E, L, K, H)
    mask: torch.Tensor  # (E, L) every piece
    words: torch.Tensor  # (E, L) real word-pieces
    mean: torch.Tensor  # (E, K, H) the words' mean, unit
    vector: torch.Tensor  # (E, H)

    @classmethod
    def of(cls, items: list[ExplanationInput]) -> Explanations:
        raw = nn.utils.rnn.pad_sequence([e.raw for e in items], batch_first=True)
        lengths = torch.tensor([e.raw.shape[0] for e in items])
        mask = torch.arange(raw.shape[1])[None, :] < lengths[:, None]
        words = nn.utils.rnn.pad_sequence([e.words for e in items], batch_first=True)
        unit = unit_layers(raw)
        return cls(
            items=items,
            raw=raw,
            unit=unit,
            mask=mask,
            words=words,
            mean=nn.functional.normalize(torch.einsum("el,elkh->ekh", words.float(), unit), dim=-1),
            vector=torch.stack([e.vector for e in items]),
        )


def matched(records: Records, explanations: Explanations, ri: torch.Tensor, ei: torch.Tensor) -> torch.Tensor:
    """(P, T, 6): the token, its left and its right neighbour is a quoted / a used word."""
    # Per explanation, which of the records' words it quotes / uses (one row per distinct word,
    # plus a blank one for padding), then looked up per token.
    table = torch.tensor(
        [
            [[w in q, w in u] for w in records.vocabulary] + [[False, False]]
            for q, u in (x.terms for x in explanations.items)
        ],
        dtype=torch.float32,
    ).reshape(len(explanations.items), len(records.vocabulary) + 1, 2)
    flags = table[ei[:, None], records.ids[ri]]  # (P, T, 2)
    left = nn.functional.pad(flags[:, :-1], (0, 0, 1, 0))
    right = nn.functional.pad(flags[:, 1:], (0, 0, 0, 1))
    return torch.cat(
        [flags[..., :1], left[..., :1], right[..., :1], flags[..., 1:], left[..., 1:], right[..., 1:]], -1
    )


def same_word(
    records: Records, explanations: Explanations, ri: torch.Tensor, ei: torch.Tensor
) -> torch.Tensor:
    """(P, T, 3): for a token whose word (or its stem) the explanation itself uses, the cosine of
    its state with that word's state INSIDE the explanation at layers 3 and 6, and a flag.

    The explanation's own "bank" carries the sense its words give it ("bank, as in the side of
    a river"); a record's "bank" near a river is closer to it than one near a loan."""
    out = torch.zeros(len(ri), records.valid.shape[1], 3)
    for p, (r, e) in enumerate(zip(ri.tolist(), ei.tolist(), strict=True)):
        content, record = explanations.items[e].content, records.items[r]
        if not content or record.vocabulary.isdisjoint(content):
            continue
        hits = []
        for t, group in enumerate(record.stems):
            stem = next((s for s in group if s in content), None)
            if stem is not None:
                hits.append((t, content[stem]))
        if not hits:
            continue
        idx = torch.tensor([t for t, _ in hits])
        states = torch.stack([c for _, c in hits])  # (n, K, H)
        cos = (records.items[r].unit[idx] * states).sum(-1)  # (n, K)
        out[p, idx, 0] = cos[:, K - 2]
        out[p, idx, 1] = cos[:, K - 1]
        out[p, idx, 2] = 1.0
    return out
