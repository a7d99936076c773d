"""The trained head: relates each record token to the explanation and predicts its activation.

Per token: a projection of its frozen MiniLM features plus a width-3 convolution (what
is just before and after it); cross-attention over the explanation's word-pieces; a
fusion MLP; then a bidirectional GRU over the record, conditioned on the explanation, so
rules about place (after a word, inside brackets, the n-th word) can be followed. The
output is a logit; the prediction is 10 * sigmoid(logit).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from engine.scoring.trained.features import DIM, HIDDEN, LAYERS

# Per layer: best cosine to one explanation word-piece, and to their mean; for the token itself
# and its left and right neighbours ("the word after 'the'" is a token whose left neighbour
# matches). Then the token's place: one-hot of its index (0..7, 8 = later) and "is the last".
N_SIMS = 3 * 2 * len(LAYERS) + 10


def _per_layer(v: torch.Tensor) -> torch.Tensor:
    """(..., DIM) -> (..., layers, HIDDEN), unit length per layer."""
    return nn.functional.normalize(v.unflatten(-1, (len(LAYERS), HIDDEN)), dim=-1)


def similarities(tokens: torch.Tensor, expl: torch.Tensor, expl_mask: torch.Tensor) -> torch.Tensor:
    """Fixed (untrained) evidence: how close each token is to the explanation's words, per layer.

    tokens (B, T, DIM), expl (B, L, DIM), expl_mask (B, L) -> (B, T, N_SIMS). [CLS] and
    [SEP] are left out (they resemble everything)."""
    t, e = _per_layer(tokens), _per_layer(expl)
    lengths = expl_mask.sum(1, keepdim=True)
    positions = torch.arange(expl.shape[1])[None, :]
    words = expl_mask & (positions > 0) & (positions < lengths - 1)
    words = torch.where(words.any(1, keepdim=True), words, expl_mask)
    sims = torch.einsum("btkh,blkh->btlk", t, e)
    best = sims.masked_fill(~words[:, None, :, None], -1.0).amax(2)
    m = words[:, :, None, None].float()
    mean = nn.functional.normalize((e * m).sum(1), dim=-1)
    own = torch.cat([best, torch.einsum("btkh,bkh->btk", t, mean)], dim=-1)
    left = nn.functional.pad(own[:, :-1], (0, 0, 1, 0))
    right = nn.functional.pad(own[:, 1:], (0, 0, 0, 1))
    return torch.cat([own, left, right], dim=-1)


def places(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(B,) lengths -> (B, T, 10): one-hot of min(index, 8) and whether it is the last token."""
    index = torch.arange(width)[None, :].expand(len(lengths), -1)
    onehot = nn.functional.one_hot(index.clamp(max=8), 9).float()
    last = (index == (lengths[:, None] - 1)).float().unsqueeze(-1)
    return torch.cat([onehot, last], dim=-1)


class Head(nn.Module):
    def __init__(self, d_in: int = DIM, d: int = 128, heads: int = 4, recurrent: int = 64) -> None:
        super().__init__()
        self.d = d
        self.token = nn.Linear(d_in, d)
        self.context = nn.Conv1d(d, d, kernel_size=3, padding=1)
        self.explanation = nn.Linear(d_in, d)
        self.attend = nn.MultiheadAttention(d, heads, batch_first=True)
        self.fuse = nn.Sequential(
            nn.Linear(4 * d + N_SIMS, d), nn.GELU(), nn.Dropout(0.1), nn.Linear(d, d), nn.GELU()
        )
        self.gru = nn.GRU(d, recurrent, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Linear(d + 2 * recurrent, d), nn.GELU(), nn.Dropout(0.1), nn.Linear(d, 1))

    def prepare(self, tokens: torch.Tensor) -> torch.Tensor:
        """Record tokens (B, T, D) -> (B, T, d): what does not depend on the explanation."""
        x = nn.functional.gelu(self.token(tokens))
        x = x + nn.functional.gelu(self.context(x.transpose(1, 2))).transpose(1, 2)
        return torch.cat([x, tokens], dim=-1)  # the raw features ride along for the similarities

    def score(
        self, x: torch.Tensor, lengths: torch.Tensor, expl: torch.Tensor, expl_mask: torch.Tensor
    ) -> torch.Tensor:
        """Prepared tokens (B, T, d + D), lengths (B,), explanation (B, L, D), its mask -> logits (B, T)."""
        x, raw = x[..., : self.d], x[..., self.d :]
        sims = torch.cat([similarities(raw, expl, expl_mask), places(lengths, x.shape[1])], dim=-1)
        e = self.explanation(expl)
        attended, _ = self.attend(x, e, e, key_padding_mask=~expl_mask, need_weights=False)
        m = expl_mask.unsqueeze(-1).float()
        summary = (e * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)
        z = self.fuse(torch.cat([x, attended, x * attended, x * summary, sims], dim=-1))
        packed = pack_padded_sequence(z, lengths.cpu(), batch_first=True, enforce_sorted=False)
        g, _ = self.gru(packed)
        g, _ = pad_packed_sequence(g, batch_first=True, total_length=z.shape[1])
        return self.out(torch.cat([z, g], dim=-1)).squeeze(-1)

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor, expl: torch.Tensor, expl_mask: torch.Tensor
    ) -> torch.Tensor:
        return self.score(self.prepare(tokens), lengths, expl, expl_mask)


def pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length (n_i, D) rows into (B, max n, D) and their lengths."""
    lengths = torch.tensor([r.shape[0] for r in rows])
    out = torch.zeros(len(rows), int(lengths.max()), rows[0].shape[-1])
    for i, r in enumerate(rows):
        out[i, : r.shape[0]] = r
    return out, lengths
