"""The trained head: relates each record token to the explanation and predicts its activation.

Two halves, so that a new explanation on known records is cheap:

- per record (no explanation; the simulator keeps it): a projection of the token's frozen
  MiniLM states and its form (``structure.py``), a width-3 convolution and a bidirectional
  GRU over the record, ending in a query and a base vector per token;
- per (explanation, record) pair, small: attention from each token to the explanation's
  word-pieces, plus fixed evidence that carries to unseen instances (``evidence``), a
  width-3 convolution over the pair's tokens, and a logit.

The fixed evidence: cosines of the token, its neighbours and its enclosing opening mark to
the explanation's words; whether the explanation names the token's ordinal; how close the
token's sentence and window are to the explanation; which neighbour the explanation quotes;
``embedding``'s own similarities (token in context, word alone, their mix: the lexical
signal); and the sense evidence — the token's state against the same word's state inside
the explanation. The output is a logit; prediction = 10 * sigmoid.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from engine.scoring.trained.features import DIM
from engine.scoring.trained.inputs import Explanations, K, Records, matched, same_word, unit_layers
from engine.scoring.trained.structure import FORM, MATCHES, PLACES

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "last")
# embedding's mix of its two similarities and its affine map (engine/scoring/embedding.py).
EMB_CONTEXT, EMB_WORD, EMB_FLOOR, EMB_CEILING = 0.7, 0.3, 0.05, 0.45
EMB = 3  # context similarity (record-centred), word similarity, the mix on 0..1
SAME = 4  # same word inside the explanation: cosine at layers 3 and 6, flag; flag x sentence cosine
# own/left/right/opener x (best, mean) per layer; ordinal (named, relative); sentence; window (2).
N_SIMS = 4 * 2 * K + 2 * K + 1 + 2
N_FEATS = N_SIMS + EMB + SAME + MATCHES  # the token's form enters through the record half


def _is_grid(r: int, e: int, ri: torch.Tensor, ei: torch.Tensor) -> bool:
    """Every explanation on every record, explanation-major (how the simulator asks)."""
    return len(ri) == r * e and bool(
        (ri == torch.arange(r).repeat(e)).all() and (ei == torch.arange(e).repeat_interleave(r)).all()
    )


def _best(
    a: torch.Tensor, b: torch.Tensor, words: torch.Tensor, ri: torch.Tensor, ei: torch.Tensor, grid: bool
) -> torch.Tensor:
    """a (R, T, K, H), b (E, L, K, H) unit -> (P, T, K): each token's best cosine to one of the
    pair's explanation words.

    On a grid, one matrix product per layer and the best taken before pairing (no (P, T, L)
    copy); a list of distinct pairs (training) gathers and multiplies pair by pair."""
    (r, t, k, h), (e, length) = a.shape, b.shape[:2]
    if grid:
        out = []
        for layer in range(k):
            full = (a[:, :, layer].reshape(r * t, h) @ b[:, :, layer].reshape(e * length, h).T).view(
                r, t, e, length
            )
            best = full.masked_fill(~words[None, None], -1.0).amax(-1)  # (R, T, E)
            out.append(best.permute(2, 0, 1).reshape(e * r, t))
        return torch.stack(out, dim=-1)
    sims = torch.einsum("ptkh,plkh->ptlk", a[ri], b[ei])
    return sims.masked_fill(~words[ei][:, None, :, None], -1.0).amax(2)


def _attend(
    q: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor,
    ri: torch.Tensor,
    ei: torch.Tensor,
    grid: bool,
) -> torch.Tensor:
    """Attention of each record token (q: R, T, d) to the pair's explanation pieces -> (P, T, d)."""
    scale = 1.0 / math.sqrt(key.shape[-1])
    if grid:
        (r, t, d), e = q.shape, key.shape[0]
        scores = torch.einsum("rtd,eld->ertl", q, key) * scale
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        return torch.matmul(torch.softmax(scores, dim=-1).view(e, r * t, -1), value).view(e * r, t, d)
    scores = torch.bmm(q[ri], key[ei].transpose(1, 2)) * scale
    scores = scores.masked_fill(~mask[ei][:, None, :], float("-inf"))
    return torch.bmm(torch.softmax(scores, dim=-1), value[ei])


def _grid(a: torch.Tensor, b: torch.Tensor, ri: torch.Tensor, ei: torch.Tensor) -> torch.Tensor:
    """a (R, T, H), b (E, H) -> (P, T): a[ri] . b[ei] via the full (R, T, E) product (cheap)."""
    return torch.einsum("rth,eh->rte", a, b)[ri, :, ei]


def evidence(
    records: Records,
    explanations: Explanations,
    ordinals: torch.Tensor,
    ri: torch.Tensor,
    ei: torch.Tensor,
    grid: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed (untrained) evidence: (P, T, N_FEATS) and the part that also skips to the logit."""
    t, e, words = records.unit, explanations.unit, explanations.words
    best = _best(t, e, words, ri, ei, grid)
    mean = torch.stack([_grid(t[:, :, k], explanations.mean[:, k], ri, ei) for k in range(K)], dim=-1)
    own = torch.cat([best, mean], dim=-1)  # (P, T, 2K)
    left = nn.functional.pad(own[:, :-1], (0, 0, 1, 0))
    right = nn.functional.pad(own[:, 1:], (0, 0, 0, 1))
    opener = records.opener[ri]
    opened = torch.gather(own, 1, opener.clamp(min=0).unsqueeze(-1).expand(-1, -1, own.shape[-1]))
    opened = opened * (opener >= 0).unsqueeze(-1)
    # The ordinal the explanation names: each ordinal word's best cosine to its words, then per
    # token the one for its rank among words (and "last" for the last word).
    o = unit_layers(ordinals)
    named = torch.einsum("nkh,elkh->enlk", o, e).masked_fill(~words[:, None, :, None], -1.0).amax(2)
    form = records.form[ri]
    alpha = form[..., PLACES + 1 : 2 * (PLACES + 1)]
    mine = torch.einsum("ptn,pnk->ptk", alpha, named[ei])
    relative = (mine - named[ei].amax(1, keepdim=True)) * (alpha.sum(-1, keepdim=True) > 0)
    width = t.shape[1]
    sentence = (records.sentence @ explanations.mean[:, -1].T)[ri, ei]
    close = torch.stack(
        [_grid(records.window[:, :, j], explanations.mean[:, K - 2 + j], ri, ei) for j in range(2)], dim=-1
    )
    # embedding's signal, computed the way it computes it.
    valid = records.valid[ri].float()
    context = _grid(t[:, :, -1], explanations.vector, ri, ei)
    context = context - (context * valid).sum(1, keepdim=True) / valid.sum(1, keepdim=True).clamp(min=1)
    word = _grid(records.word_vec, explanations.vector, ri, ei)
    mix = ((EMB_CONTEXT * context + EMB_WORD * word - EMB_FLOOR) / (EMB_CEILING - EMB_FLOOR)).clamp(0, 1)
    emb = torch.stack([context, word, mix], dim=-1)
    same = same_word(records, explanations, ri, ei)
    same = torch.cat([same, same[..., 2:3] * mean[..., K - 1 : K]], dim=-1)
    skip = torch.cat([emb, same], dim=-1)
    feats = torch.cat(
        [
            own,
            left,
            right,
            opened,
            mine,
            relative,
            sentence[:, None, None].expand(-1, width, 1),
            close,
            skip,
            matched(records, explanations, ri, ei),
        ],
        dim=-1,
    )
    return feats * valid.unsqueeze(-1), skip * valid.unsqueeze(-1)


class Head(nn.Module):
    def __init__(self, d_in: int = DIM, d: int = 128, pair: int = 64, recurrent: int = 32) -> None:
        super().__init__()
        self.register_buffer("ordinals", torch.zeros(len(ORDINALS), d_in))  # set by training
        self.token = nn.Linear(d_in + FORM, d)
        self.context = nn.Conv1d(d, d, kernel_size=3, padding=1)
        self.gru = nn.GRU(d, recurrent, batch_first=True, bidirectional=True)
        self.base = nn.Linear(d + 2 * recurrent, pair)
        self.query = nn.Linear(d + 2 * recurrent, pair)
        self.key = nn.Linear(d_in, pair)
        self.value = nn.Linear(d_in, pair)
        self.attended = nn.Linear(pair, pair)
        self.features = nn.Linear(N_FEATS, pair)
        # Neighbours' pair state, channel by channel (a full convolution cost 3x the rest).
        self.mix = nn.Conv1d(pair, pair, kernel_size=3, padding=1, groups=pair)
        self.drop = nn.Dropout(0.1)
        self.out = nn.Linear(pair, 1)
        self.skip = nn.Linear(EMB + SAME, 1)

    def encode(self, records: Records) -> tuple[torch.Tensor, torch.Tensor]:
        """The explanation-independent half: (R, T, pair) base and query per token."""
        flat = records.unit.flatten(-2)
        x = nn.functional.gelu(self.token(torch.cat([flat, records.form], dim=-1)))
        x = x + nn.functional.gelu(self.context(x.transpose(1, 2))).transpose(1, 2)
        packed = pack_padded_sequence(x, records.lengths, batch_first=True, enforce_sorted=False)
        g, _ = self.gru(packed)
        g, _ = pad_packed_sequence(g, batch_first=True, total_length=x.shape[1])
        h = torch.cat([x, g], dim=-1)
        return self.base(h), self.query(h)

    def score(
        self,
        records: Records,
        encoded: tuple[torch.Tensor, torch.Tensor],
        explanations: Explanations,
        ri: torch.Tensor,
        ei: torch.Tensor,
    ) -> torch.Tensor:
        """Logits (P, T) of the pairs (record ri[p], explanation ei[p])."""
        base, query = encoded
        grid = _is_grid(len(records.items), len(explanations.items), ri, ei)
        feats, skip = evidence(records, explanations, self.ordinals, ri, ei, grid)
        key, value = self.key(explanations.raw), self.value(explanations.raw)
        m = explanations.words.unsqueeze(-1).float()
        summary = (value * m).sum(1) / m.sum(1).clamp(min=1)  # (E, pair)
        attended = _attend(query, key, value, explanations.mask, ri, ei, grid)
        b = base[ri]
        z = nn.functional.gelu(
            b + self.attended(attended) + b * summary[ei][:, None, :] + self.features(feats)
        )
        z = self.drop(z) * records.valid[ri].unsqueeze(-1)
        z = z + nn.functional.gelu(self.mix(z.transpose(1, 2))).transpose(1, 2)
        return (self.out(z) + self.skip(skip)).squeeze(-1)
