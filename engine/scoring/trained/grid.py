"""The scoring fast path: every explanation on every record, the records' tokens packed.

``Head.score`` pairs records and explanations by index (training asks for any list of
pairs) and works on records padded to the longest one. Scoring always asks for the full
grid, and it asks often: this computes the same logits as ``Head.score`` (within float
noise; ``tests/engine/test_trained_grid.py`` pins it) with

- the records' real tokens packed into one row of N (no padding in the pair half, whose
  64-wide states are most of its cost), and what does not depend on the explanation
  (packed states, neighbour and enclosure indices, the words' lookup tables) built once per
  record batch (``pack``; the simulator keeps it with the batch);
- one matrix product per layer for every cosine a layer needs (the explanation's word
  pieces, its mean, embedding's sentence vector), word pieces only (no [CLS]/[SEP]/padding);
- the ``attended`` projection folded into the values (softmax weights sum to 1), the
  channel-wise convolution as three shifted products, no dropout or copies per pair;
- the same-word and quoted-word evidence looked up from the few words that match, not
  tested pair by pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from engine.scoring.trained.head import EMB_CEILING, EMB_CONTEXT, EMB_FLOOR, EMB_WORD, Head
from engine.scoring.trained.inputs import Explanations, K, Records, unit_layers
from engine.scoring.trained.structure import PLACES

EMB_MIX = 2  # embedding's prediction on 0..1 in the skip evidence (context, word, mix, ...)


@dataclass
class Packed:
    """A record batch's explanation-independent inputs, its N real tokens in record order."""

    lengths: list[int]
    offsets: list[int]  # where each record starts in N
    units: torch.Tensor  # (K, N, H) unit states per layer
    windows: torch.Tensor  # (2, N, H) window means, layers K-2 and K-1
    word_vec: torch.Tensor  # (N, H)
    sentence: torch.Tensor  # (R, H)
    record: torch.Tensor  # (N,) the record each token belongs to
    average: torch.Tensor  # (N, R) 1/length where the token is in the record: per-record means
    previous: torch.Tensor  # (N,) index of the left neighbour (itself at a record's start)
    following: torch.Tensor  # (N,) index of the right neighbour (itself at a record's end)
    has_previous: torch.Tensor  # (N, 1) float
    has_following: torch.Tensor  # (N, 1) float
    opener: torch.Tensor  # (N,) packed index of the enclosing opening mark (itself if none)
    has_opener: torch.Tensor  # (N, 1) float
    alpha: torch.Tensor  # (N, PLACES + 1) index among alphabetic words (one-hot, last)
    has_alpha: torch.Tensor  # (N, 1) float
    base: torch.Tensor  # (N, pair x heads) the record half's outputs, the heads' side by side
    query: torch.Tensor  # (N, pair x heads)
    vocabulary: dict[str, int]  # the records' words, once each
    ids: torch.Tensor  # (N,) each token's word in ``vocabulary``
    tokens_of: list[list[int]]  # per word of ``vocabulary``, the packed tokens that are it
    by_stem: dict[str, list[int]]  # a word or stem -> the words of ``vocabulary`` it is one of
    stems: list[tuple[str, ...]]  # per word of ``vocabulary``, its stems (as ``same_word`` reads them)


def pack(records: Records, encoded: tuple[torch.Tensor, torch.Tensor]) -> Packed:
    valid = records.valid
    lengths = records.lengths.tolist()
    offsets = [0]
    for n in lengths[:-1]:
        offsets.append(offsets[-1] + n)
    n_tokens = sum(lengths)
    starts = torch.tensor(offsets)
    record = torch.repeat_interleave(torch.arange(len(lengths)), records.lengths)
    index = torch.arange(n_tokens)
    position = index - starts[record]
    first, last = position == 0, position == records.lengths[record] - 1
    opener = records.opener[valid]
    alpha = records.form[..., PLACES + 1 : 2 * (PLACES + 1)][valid]
    average = torch.zeros(n_tokens, len(lengths))
    average[index, record] = 1.0 / records.lengths[record].float()
    vocabulary = {w: i for i, w in enumerate(records.vocabulary)}
    tokens_of: list[list[int]] = [[] for _ in vocabulary]
    stems: list[tuple[str, ...]] = [()] * len(vocabulary)
    n = 0
    for item in records.items:
        for word, group in zip(item.words, item.stems, strict=True):
            tokens_of[vocabulary[word]].append(n)
            stems[vocabulary[word]] = group
            n += 1
    by_stem: dict[str, list[int]] = {}
    for v, group in enumerate(stems):
        for s in group:
            by_stem.setdefault(s, []).append(v)
    base, query = encoded
    return Packed(
        lengths=lengths,
        offsets=offsets,
        units=records.unit[valid].permute(1, 0, 2).contiguous(),
        windows=records.window[valid].permute(1, 0, 2).contiguous(),
        word_vec=records.word_vec[valid].contiguous(),
        sentence=records.sentence,
        record=record,
        average=average,
        previous=torch.where(first, index, index - 1),
        following=torch.where(last, index, index + 1),
        has_previous=(~first).float().unsqueeze(-1),
        has_following=(~last).float().unsqueeze(-1),
        opener=torch.where(opener >= 0, opener + starts[record], index),
        has_opener=(opener >= 0).float().unsqueeze(-1),
        alpha=alpha,
        has_alpha=(alpha.sum(-1, keepdim=True) > 0).float(),
        base=base[valid],
        query=query[valid],
        vocabulary=vocabulary,
        ids=records.ids[valid],
        tokens_of=tokens_of,
        by_stem=by_stem,
        stems=stems,
    )


def _neighbours(x: torch.Tensor, packed: Packed) -> tuple[torch.Tensor, torch.Tensor]:
    """x (E, N, C) -> its left and right neighbour's value (0 past a record's ends)."""
    return x[:, packed.previous] * packed.has_previous, x[:, packed.following] * packed.has_following


def _cosines(packed: Packed, explanations: Explanations) -> tuple[torch.Tensor, ...]:
    """(E, N, K) best word cosine and mean cosine per layer, (E, N) embedding's context cosine."""
    unit, words = explanations.unit, explanations.words
    if not words[:, 0].any():  # [CLS] is never a word (only in a text of no pieces): drop it
        unit, words = unit[:, 1:], words[:, 1:]
    e, length = words.shape
    # Word pieces only (no [CLS], [SEP] or padding: ~40% of the padded rows) in the products;
    # the other rows read -2, below any cosine, before the max.
    real = words.reshape(-1).nonzero().squeeze(1)
    pieces = unit.reshape(e * length, K, -1)[real]  # (W, K, H)
    best, mean = [], []
    for k in range(K):
        states = packed.units[k].T  # (H, N)
        sims = torch.full((e * length, states.shape[1]), -2.0).index_copy_(0, real, pieces[:, k] @ states)
        best.append(sims.view(e, length, -1).amax(1))  # (E, N)
        mean.append(explanations.mean[:, k] @ states)
    context = explanations.vector @ packed.units[K - 1].T
    return torch.stack(best, -1), torch.stack(mean, -1), context


def _same_word(packed: Packed, explanations: Explanations) -> torch.Tensor:
    """(E, N, 3) as ``inputs.same_word``: for tokens whose word (or stem) the explanation uses,
    their cosine with that word's state inside the explanation at layers K-2, K-1, and a flag."""
    out = torch.zeros(len(explanations.items), packed.units.shape[1], 3)
    for e, item in enumerate(explanations.items):
        content = item.content
        words = {v for key in content for v in packed.by_stem.get(key, ())}
        hits: list[tuple[int, torch.Tensor]] = []
        for v in words:
            stem = next(s for s in packed.stems[v] if s in content)  # the first, as same_word takes
            hits.extend((t, content[stem]) for t in packed.tokens_of[v])
        if not hits:
            continue
        idx = torch.tensor([t for t, _ in hits])
        states = torch.stack([c[K - 2 :] for _, c in hits])  # (n, 2, H)
        cos = (packed.units[K - 2 :, idx].transpose(0, 1) * states).sum(-1)  # (n, 2)
        out[e, idx, :2] = cos
        out[e, idx, 2] = 1.0
    return out


def _flags(packed: Packed, explanations: Explanations) -> torch.Tensor:
    """(E, N, 2): the token is a word the explanation quotes / uses (``inputs.matched``'s table)."""
    table = torch.zeros(len(explanations.items), len(packed.vocabulary), 2)
    for e, item in enumerate(explanations.items):
        for column, group in enumerate(item.terms):
            rows = [packed.vocabulary[w] for w in group if w in packed.vocabulary]
            table[e, rows, column] = 1.0
    return table[:, packed.ids]


def evidence(packed: Packed, explanations: Explanations, ordinals: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(E, N, N_FEATS) and (E, N, 7): ``head.evidence``'s features, the same order."""
    best, mean, context = _cosines(packed, explanations)
    own = torch.cat([best, mean], -1)  # (E, N, 2K)
    flags = _flags(packed, explanations)
    left, right = _neighbours(torch.cat([own, flags], -1), packed)  # both at once
    matched = torch.stack(
        [flags[..., 0], left[..., -2], right[..., -2], flags[..., 1], left[..., -1], right[..., -1]], -1
    )
    left, right = left[..., :-2], right[..., :-2]
    opened = own[:, packed.opener] * packed.has_opener
    o = unit_layers(ordinals)
    words = explanations.words
    named = torch.einsum("nkh,elkh->enlk", o, explanations.unit)
    named = named.masked_fill(~words[:, None, :, None], -1.0).amax(2)  # (E, ordinals, K)
    mine = torch.einsum("nj,ejk->enk", packed.alpha, named)
    relative = (mine - named.amax(1, keepdim=True)) * packed.has_alpha
    sentence = (explanations.mean[:, -1] @ packed.sentence.T)[:, packed.record]  # (E, N)
    close = torch.stack(
        [explanations.mean[:, K - 2 + j] @ packed.windows[j].T for j in range(2)], -1
    )  # (E, N, 2)
    context = context - (context @ packed.average)[:, packed.record]
    word = explanations.vector @ packed.word_vec.T
    mix = ((EMB_CONTEXT * context + EMB_WORD * word - EMB_FLOOR) / (EMB_CEILING - EMB_FLOOR)).clamp(0, 1)
    same = _same_word(packed, explanations)
    skip = torch.cat([torch.stack([context, word, mix], -1), same, same[..., 2:3] * mean[..., K - 1 : K]], -1)
    feats = torch.cat(
        [
            own,
            left,
            right,
            opened,
            mine,
            relative,
            sentence.unsqueeze(-1),
            close,
            skip,
            matched,
        ],
        -1,
    )
    return feats, skip


@torch.inference_mode()
def logits(head: Head, packed: Packed, explanations: Explanations) -> torch.Tensor:
    """(E, N): what ``head.score`` gives for every (explanation, record) pair, tokens packed
    (``packed`` holds this one head's record half)."""
    feats, skip = evidence(packed, explanations, head.ordinals)
    return _pair_logits(head, packed.base, packed.query, packed, explanations, feats, skip)


@torch.inference_mode()
def ensemble(
    heads: list[Head], packed: Packed, explanations: Explanations, embedding_share: float = 0.0
) -> torch.Tensor:
    """(E, N) on 0..1: the heads' predictions averaged, then ``embedding_share`` of it replaced
    by ``embedding``'s own prediction (its mix on 0..1, one of the fixed inputs). ``packed``
    holds the heads' record halves side by side (``pair`` columns each). The fixed evidence is
    the same for every head (their ordinal banks are the encoder's), so it is computed once."""
    feats, skip = evidence(packed, explanations, heads[0].ordinals)
    width = packed.base.shape[-1] // len(heads)
    total = None
    for m, head in enumerate(heads):
        cols = slice(m * width, (m + 1) * width)
        z = _pair_logits(head, packed.base[:, cols], packed.query[:, cols], packed, explanations, feats, skip)
        total = torch.sigmoid_(z) if total is None else total.add_(torch.sigmoid_(z))
    assert total is not None
    total.mul_((1 - embedding_share) / len(heads))
    return total.add_(skip[..., EMB_MIX], alpha=embedding_share) if embedding_share else total


def _keys_and_values(head: Head, explanations: Explanations) -> tuple[torch.Tensor, torch.Tensor]:
    """The head's key and value of every explanation piece, (E, L, pair) each, computed on the
    real pieces only (a padded row's key is masked and its value weighted 0: left at 0)."""
    raw, mask = explanations.raw, explanations.mask
    e, length = mask.shape
    real = mask.reshape(-1).nonzero().squeeze(1)
    rows = raw.reshape(e * length, -1)[real]
    out = []
    for layer in (head.key, head.value):
        full = torch.zeros(e * length, layer.out_features)
        out.append(full.index_copy_(0, real, layer(rows)).view(e, length, -1))
    return out[0], out[1]


def _pair_logits(
    head: Head,
    base: torch.Tensor,
    query: torch.Tensor,
    packed: Packed,
    explanations: Explanations,
    feats: torch.Tensor,
    skip: torch.Tensor,
) -> torch.Tensor:
    """(E, N) logits of one head's pair half on the shared evidence.

    The pair states (E, N, pair) are most of the cost: each step below is one pass over them."""
    key, value = _keys_and_values(head, explanations)  # (E, L, pair)
    m = explanations.words.unsqueeze(-1).float()
    summary = (value * m).sum(1) / m.sum(1).clamp(min=1)  # (E, pair)
    # attended(softmax . value) = softmax . attended(value) (a row's weights sum to 1); the
    # features' bias rides along the same way.
    projected = head.attended(value) + head.features.bias
    # Scores as (E, L, N): the softmax over L runs along the outer axis, vectorised over tokens.
    hidden = ~explanations.mask.unsqueeze(-1)  # (E, L, 1)
    scale = 1.0 / math.sqrt(key.shape[-1])
    e, length, width = key.shape
    # One product for every explanation's pieces against the tokens (a batched product over an
    # expanded query copied it per explanation), the mask after.
    scores = (key.view(e * length, width) @ (query.T * scale)).view(e, length, -1)
    scores.masked_fill_(hidden, float("-inf"))
    z = torch.bmm(torch.softmax(scores, 1).transpose(1, 2), projected)  # (E, N, pair)
    n = z.shape[1]
    z = torch.addmm(z.view(e * n, width), feats.view(e * n, -1), head.features.weight.T).view(e, n, width)
    z = nn.functional.gelu(z.addcmul_(base, 1 + summary[:, None, :]))
    # The channel-wise width-3 convolution over each record's tokens (zeros past its ends),
    # as three shifted products; a token's missing neighbour has a zero weight.
    w = head.mix.weight.squeeze(1)  # (pair, 3)
    mixed = torch.addcmul(head.mix.bias, z, w[:, 1])
    mixed[:, 1:].addcmul_(z[:, :-1], packed.has_previous[1:] * w[:, 0])
    mixed[:, :-1].addcmul_(z[:, 1:], packed.has_following[:-1] * w[:, 2])
    z = z.add_(nn.functional.gelu(mixed))
    out = z @ head.out.weight.squeeze(0) + head.out.bias
    return out.add_(skip @ head.skip.weight.squeeze(0) + head.skip.bias)
