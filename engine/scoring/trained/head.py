"""The trained head: relates each record token to the explanation and predicts its activation.

Per token: a projection of its frozen MiniLM features and its form (``structure.py``:
place, punctuation, digits, enclosure) plus a width-3 convolution; cross-attention over
the explanation's word-pieces; fixed evidence that carries to unseen rule instances
(cosines of the token, its neighbours and its enclosing opening mark to the explanation's
words; whether the explanation names the token's ordinal; how close the token's sentence
and window are to the explanation; which neighbour the explanation quotes); a fusion MLP;
then a bidirectional GRU over the record. The output is a logit; prediction = 10 * sigmoid.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from engine.scoring.trained.features import DIM, HIDDEN, LAYERS
from engine.scoring.trained.structure import FORM, MATCHES, PLACES

K = len(LAYERS)
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "last")
WINDOW = 2  # tokens either side in the window compared with the explanation (sense evidence)
# own/left/right x (best, mean) per layer; the opening mark's (best, mean); ordinal (named,
# named - best named); sentence (last layer), window (middle and last layer).
N_SIMS = 3 * 2 * K + 2 * K + 2 * K + 3


def _per_layer(v: torch.Tensor) -> torch.Tensor:
    """(..., DIM) -> (..., layers, HIDDEN), unit length per layer."""
    return nn.functional.normalize(v.unflatten(-1, (K, HIDDEN)), dim=-1)


def _words(expl_mask: torch.Tensor) -> torch.Tensor:
    """The explanation's word-pieces without [CLS] and [SEP] (they resemble everything)."""
    lengths = expl_mask.sum(1, keepdim=True)
    positions = torch.arange(expl_mask.shape[1])[None, :]
    words = expl_mask & (positions > 0) & (positions < lengths - 1)
    return torch.where(words.any(1, keepdim=True), words, expl_mask)


def _best_and_mean(t: torch.Tensor, e: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """t (B, T, K, H), e (B, L, K, H) unit -> (B, T, 2K): best cosine to one word, to their mean."""
    sims = torch.einsum("btkh,blkh->btlk", t, e)
    best = sims.masked_fill(~words[:, None, :, None], -1.0).amax(2)
    m = words[:, :, None, None].float()
    mean = nn.functional.normalize((e * m).sum(1), dim=-1)
    return torch.cat([best, torch.einsum("btkh,bkh->btk", t, mean)], dim=-1)


def _window_mean(v: torch.Tensor, mask: torch.Tensor, width: int) -> torch.Tensor:
    """(B, T, H) -> mean over tokens within ``width`` either side (valid tokens only).

    Differences of running sums: a conv1d over B*H one-channel rows cost 10x more."""
    n = v.shape[1]
    m = mask.float().unsqueeze(-1)
    sums = nn.functional.pad(torch.cumsum(v * m, dim=1), (0, 0, 1, 0))
    counts = nn.functional.pad(torch.cumsum(m, dim=1), (0, 0, 1, 0))
    index = torch.arange(n)
    hi, lo = (index + width + 1).clamp(max=n), (index - width).clamp(min=0)
    return (sums[:, hi] - sums[:, lo]) / (counts[:, hi] - counts[:, lo]).clamp(min=1)


def windows(raw: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, D) -> (B, T, 2 * HIDDEN): each token's window mean at the middle and last layer, unit."""
    valid = torch.arange(raw.shape[1])[None, :] < lengths[:, None]
    return torch.cat(
        [
            nn.functional.normalize(
                _window_mean(raw[..., k * HIDDEN : (k + 1) * HIDDEN], valid, WINDOW), dim=-1
            )
            for k in (K - 2, K - 1)
        ],
        dim=-1,
    )


def evidence(
    raw: torch.Tensor,
    window: torch.Tensor,
    form: torch.Tensor,
    opener: torch.Tensor,
    lengths: torch.Tensor,
    expl: torch.Tensor,
    expl_mask: torch.Tensor,
    ordinals: torch.Tensor,
) -> torch.Tensor:
    """Fixed (untrained) evidence, (B, T, N_SIMS); see the module docstring."""
    b, width = raw.shape[:2]
    t, e = _per_layer(raw), _per_layer(expl)
    words = _words(expl_mask)
    own = _best_and_mean(t, e, words)
    left = nn.functional.pad(own[:, :-1], (0, 0, 1, 0))
    right = nn.functional.pad(own[:, 1:], (0, 0, 0, 1))
    inside = opener >= 0
    opened = torch.gather(own, 1, opener.clamp(min=0).unsqueeze(-1).expand(-1, -1, own.shape[-1]))
    opened = opened * inside.unsqueeze(-1)
    # Ordinal named by the explanation: best cosine of each ordinal word to its words, then per
    # token the one for its rank among words (and "last" for the last word).
    o = _per_layer(ordinals)
    named = torch.einsum("nkh,blkh->bnlk", o, e).masked_fill(~words[:, None, :, None], -1.0).amax(2)
    alpha = form[..., PLACES + 1 : 2 * (PLACES + 1)]
    mine = torch.einsum("btn,bnk->btk", alpha, named)
    relative = (mine - named.amax(1, keepdim=True)) * (alpha.sum(-1, keepdim=True) > 0)
    valid = torch.arange(width)[None, :] < lengths[:, None]
    m = expl_mask[..., None, None].float()
    expl_mean = nn.functional.normalize((expl.unflatten(-1, (K, HIDDEN)) * m).sum(1), dim=-1)
    last = raw[..., (K - 1) * HIDDEN :]
    sentence = (last * valid.unsqueeze(-1)).sum(1) / lengths[:, None].clamp(min=1)
    sent_cos = torch.einsum("bh,bh->b", nn.functional.normalize(sentence, dim=-1), expl_mean[:, -1])
    close = torch.einsum("btjh,bjh->btj", window.unflatten(-1, (2, HIDDEN)), expl_mean[:, K - 2 :])
    return torch.cat(
        [own, left, right, opened, mine, relative, sent_cos[:, None, None].expand(b, width, 1), close],
        dim=-1,
    )


class Head(nn.Module):
    def __init__(self, d_in: int = DIM, d: int = 128, heads: int = 4, recurrent: int = 64) -> None:
        super().__init__()
        self.d = d
        self.register_buffer("ordinals", torch.zeros(len(ORDINALS), d_in))  # set by training
        self.token = nn.Linear(d_in + FORM, d)
        self.context = nn.Conv1d(d, d, kernel_size=3, padding=1)
        self.explanation = nn.Linear(d_in, d)
        self.attend = nn.MultiheadAttention(d, heads, batch_first=True)
        self.fuse = nn.Sequential(
            nn.Linear(4 * d + N_SIMS + FORM + MATCHES, d),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(d, d),
            nn.GELU(),
        )
        self.gru = nn.GRU(d, recurrent, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Linear(d + 2 * recurrent, d), nn.GELU(), nn.Dropout(0.1), nn.Linear(d, 1))

    def prepare(
        self,
        tokens: torch.Tensor,
        form: torch.Tensor,
        opener: torch.Tensor,
        lengths: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Record tokens (B, T, D), form (B, T, FORM), opener (B, T) -> (B, T, d + D + 2H + FORM + 1).

        What does not depend on the explanation, computed once per record; the raw features,
        the window means, the form and the opener index ride along for the evidence."""
        if lengths is None:
            lengths = torch.full((tokens.shape[0],), tokens.shape[1])
        x = nn.functional.gelu(self.token(torch.cat([tokens, form], dim=-1)))
        x = x + nn.functional.gelu(self.context(x.transpose(1, 2))).transpose(1, 2)
        return torch.cat([x, tokens, windows(tokens, lengths), form, opener.unsqueeze(-1).float()], dim=-1)

    def score(
        self,
        prepared: torch.Tensor,
        lengths: torch.Tensor,
        expl: torch.Tensor,
        expl_mask: torch.Tensor,
        matched: torch.Tensor,
    ) -> torch.Tensor:
        """Prepared tokens, lengths (B,), explanation (B, L, D), its mask, matches (B, T, 6) -> (B, T)."""
        d, dim = self.d, self.ordinals.shape[1]
        x, raw = prepared[..., :d], prepared[..., d : d + dim]
        window = prepared[..., d + dim : d + dim + 2 * HIDDEN]
        form, opener = prepared[..., -1 - FORM : -1], prepared[..., -1].long()
        sims = evidence(raw, window, form, opener, lengths, expl, expl_mask, self.ordinals)
        e = self.explanation(expl)
        attended, _ = self.attend(x, e, e, key_padding_mask=~expl_mask, need_weights=False)
        m = expl_mask.unsqueeze(-1).float()
        summary = (e * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)
        z = self.fuse(torch.cat([x, attended, x * attended, x * summary, sims, form, matched], dim=-1))
        packed = pack_padded_sequence(z, lengths.cpu(), batch_first=True, enforce_sorted=False)
        g, _ = self.gru(packed)
        g, _ = pad_packed_sequence(g, batch_first=True, total_length=z.shape[1])
        return self.out(torch.cat([z, g], dim=-1)).squeeze(-1)


def pad(rows: list[torch.Tensor], value: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length (n_i, ...) rows into (B, max n, ...) and their lengths."""
    lengths = torch.tensor([r.shape[0] for r in rows])
    out = torch.full((len(rows), int(lengths.max()), *rows[0].shape[1:]), value, dtype=rows[0].dtype)
    for i, r in enumerate(rows):
        out[i, : r.shape[0]] = r
    return out, lengths
