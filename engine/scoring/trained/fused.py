"""The ensemble's pair half with the heads' shared work done once, their weights stacked.

``grid.ensemble`` runs each head's pair half in turn (about forty small operations a head).
Scoring runs this instead, on the same fixed evidence (``grid.evidence``), with what each head
computes unchanged up to float rounding (``tests/engine/test_trained_fused.py``: within 1e-6):

- every head's keys and values in ONE product over the explanations' real pieces, and
  ``attended(value)`` folded into it: ``attended`` is linear and a softmax row sums to 1, so
  ``attended(softmax . value) = softmax . (raw @ (A V)^T + A b_v + b_a)`` — the value
  projection is never computed per piece;
- the value's mean over an explanation's words (``summary``) as the projection of the words'
  mean state (linear again): one row per explanation instead of one per piece;
- every head's attention scores and softmax in one batched product, the skip part of every
  head's logit in one product, each head's output as a matrix-vector product (a batched
  product with one column was 7x slower), GELU in place;
- the (E, N, pair) states head by head: all heads at once (3.5 MB a typical call) were slower
  than one head's states, which stay in the core's cache.

Training keeps ``grid.ensemble`` (``TrainedSimulator(fused_heads=False)``), so the one command
chooses the same epochs and writes the same head file bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from engine.scoring.trained.grid import EMB_MIX, Packed, evidence
from engine.scoring.trained.head import Head
from engine.scoring.trained.inputs import Explanations

gelu_ = torch.ops.aten.gelu_  # in place: the same values as nn.functional.gelu, no new tensor


@dataclass
class Stack:
    """The heads' pair-half weights side by side (heads first where batched)."""

    heads: int
    width: int  # each head's pair width
    ordinals: torch.Tensor  # the encoder's ordinal bank (the same in every head)
    keys_projected: torch.Tensor  # (K*HIDDEN, 2 * heads * width): keys, then attended(values)
    keys_projected_bias: torch.Tensor  # (2 * heads * width,)
    value: torch.Tensor  # (K*HIDDEN, heads * width)
    value_bias: torch.Tensor  # (heads * width,)
    features: torch.Tensor  # (heads, N_FEATS, width), its bias is in keys_projected_bias
    mix: torch.Tensor  # (3, heads, width): the convolution's left, centre, right weights
    mix_bias: torch.Tensor  # (heads, width)
    out: torch.Tensor  # (heads, width)
    skip: torch.Tensor  # (SKIP, heads)
    out_bias: torch.Tensor  # (heads,): the output's and the skip's biases together


@torch.inference_mode()
def stack(heads: list[Head]) -> Stack:
    """The heads' weights stacked once (the simulator keeps the result). The folds are made in
    float64 and stored in float32: one rounding, as the unfolded products have."""
    for head in heads[1:]:
        if not torch.equal(head.ordinals, heads[0].ordinals):
            raise ValueError("the heads' ordinal banks differ: their evidence cannot be shared")
    keys, projected, projected_bias = [], [], []
    for head in heads:
        a, v = head.attended.weight.double(), head.value.weight.double()
        keys.append(head.key.weight)
        projected.append((a @ v).float())
        bias = a @ head.value.bias.double() + head.attended.bias.double() + head.features.bias.double()
        projected_bias.append(bias.float())
    mix = torch.stack([h.mix.weight.squeeze(1) for h in heads])  # (heads, width, 3)
    return Stack(
        heads=len(heads),
        width=heads[0].key.out_features,
        ordinals=heads[0].ordinals,
        keys_projected=torch.cat(keys + projected).T.contiguous(),
        keys_projected_bias=torch.cat([h.key.bias for h in heads] + projected_bias),
        value=torch.cat([h.value.weight for h in heads]).T.contiguous(),
        value_bias=torch.cat([h.value.bias for h in heads]),
        features=torch.stack([h.features.weight.T for h in heads]).contiguous(),
        mix=mix.permute(2, 0, 1).contiguous(),
        mix_bias=torch.stack([h.mix.bias for h in heads]),
        out=torch.cat([h.out.weight for h in heads]).contiguous(),
        skip=torch.cat([h.skip.weight for h in heads]).T.contiguous(),
        out_bias=torch.cat([h.out.bias + h.skip.bias for h in heads]),
    )


@torch.inference_mode()
def ensemble(
    weights: Stack, packed: Packed, explanations: Explanations, embedding_share: float = 0.0
) -> torch.Tensor:
    """(E, N) on 0..1: what ``grid.ensemble`` gives (the heads' predictions averaged, then
    ``embedding_share`` of it replaced by ``embedding``'s own), the heads' shared parts at once."""
    feats, skip = evidence(packed, explanations, weights.ordinals)
    h, width = weights.heads, weights.width
    raw, mask = explanations.raw, explanations.mask
    e, length = mask.shape
    n = packed.base.shape[0]
    # Keys and projected values of the real pieces (a padded piece: key masked, weight 0).
    real = mask.reshape(-1).nonzero().squeeze(1)
    rows = torch.addmm(weights.keys_projected_bias, raw.reshape(e * length, -1)[real], weights.keys_projected)
    both = torch.zeros(e * length, 2 * h * width).index_copy_(0, real, rows).view(e, length, 2, h, width)
    key = both[:, :, 0].permute(2, 0, 1, 3).reshape(h, e * length, width)
    projected = both[:, :, 1].permute(2, 0, 1, 3).contiguous()  # (h, E, L, width)
    words = explanations.words.float()
    mean = torch.bmm(words.unsqueeze(1), raw).squeeze(1) / words.sum(1, keepdim=True).clamp(min=1)
    summary = torch.addmm(weights.value_bias, mean, weights.value).view(e, h, width).transpose(0, 1) + 1
    query = packed.query.view(n, h, width).permute(1, 2, 0) * (1.0 / math.sqrt(width))  # (h, width, N)
    scores = torch.bmm(key, query).view(h, e, length, n)
    scores.masked_fill_(~mask[None, :, :, None], float("-inf"))
    attention = torch.softmax(scores, 2)  # over the pieces
    base = packed.base.view(n, h, width).transpose(0, 1).contiguous()  # (h, N, width)
    # The output's and skip's biases and the skip part, then each head adds its output.
    logits = torch.addmm(weights.out_bias, skip.view(e * n, -1), weights.skip).T.contiguous()  # (h, E*N)
    flat = feats.view(e * n, -1)
    before = packed.has_previous[1:]
    after = packed.has_following[:-1]
    left, centre, right = weights.mix
    for m in range(h):  # head by head: its (E, N, width) states stay in the core's cache
        z = torch.bmm(attention[m].transpose(1, 2), projected[m])  # (E, N, width)
        z.view(e * n, width).addmm_(flat, weights.features[m])
        gelu_(z.addcmul_(base[m], summary[m, :, None, :]))
        # The channel-wise width-3 convolution over each record's tokens (zeros past its ends),
        # as three shifted products.
        mixed = torch.addcmul(weights.mix_bias[m], z, centre[m])
        mixed[:, 1:].addcmul_(z[:, :-1], before * left[m])
        mixed[:, :-1].addcmul_(z[:, 1:], after * right[m])
        z.add_(gelu_(mixed))
        logits[m].addmv_(z.view(e * n, width), weights.out[m])
    total = torch.sigmoid_(logits).sum(0).view(e, n).mul_((1 - embedding_share) / h)
    return total.add_(skip[..., EMB_MIX], alpha=embedding_share) if embedding_share else total
