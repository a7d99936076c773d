"""Resampling dead latents toward the inputs the SAE rebuilds worst (Bricken et al., 2023,
"Towards Monosemanticity", adapted to TopK).

AuxK's gradient revives a dead latent only slowly: its Adam second moment still remembers the
large gradients it had while alive. Resampling moves it at once to where it is needed: each
dead latent takes one token drawn with probability proportional to its squared reconstruction
error, and becomes that token's residual direction (decoder row, unit norm; encoder column, at
the alive columns' mean norm, so that its pre-activation on that token is about the length of
the residual and it enters the token's top k). Its encoder bias is the alive latents' median.

Adam's state of the moved entries: the first moment zeroed (the old direction's momentum is
meaningless), the second moment set to the alive latents' mean rather than zero: zeroed, Adam's
first steps on them would be several times the learning rate (its bias correction assumes
moments that started at step 0) and could knock the latent out again.
"""

from __future__ import annotations

import torch

from engine.sae.topk_step import decode


@torch.no_grad()
def resample_dead(
    params: dict[str, torch.Tensor],
    optim: torch.optim.Optimizer,
    x: torch.Tensor,
    dead: torch.Tensor,
    *,
    k: int,
    generator: torch.Generator,
) -> int:
    """Move the ``dead`` latents (bool [d_sae]) to high-error directions of the tokens ``x``
    [n, d_in]; returns how many moved. Nothing moves when every latent is dead or none is."""
    ids = dead.nonzero(as_tuple=True)[0]
    alive = ~dead
    if ids.numel() == 0 or not bool(alive.any()):
        return 0
    w_enc, b_enc, w_dec, b_dec = params["W_enc"], params["b_enc"], params["W_dec"], params["b_dec"]
    pre = (x - b_dec) @ w_enc + b_enc
    vals, idx = pre.topk(k, dim=-1)
    residual = x - (decode(torch.relu(vals), idx, w_dec) + b_dec)
    err = residual.pow(2).sum(-1).double()
    weights = err.pow(2)
    if float(weights.sum()) <= 0:
        return 0
    # With replacement only when there are more dead latents than tokens with some error.
    replace = ids.numel() > int((weights > 0).sum())
    picks = torch.multinomial(weights, ids.numel(), replacement=replace, generator=generator)
    directions = torch.nn.functional.normalize(residual[picks], dim=-1)
    w_dec[ids] = directions
    w_enc[:, ids] = directions.t() * w_enc[:, alive].norm(dim=0).mean()
    b_enc[ids] = b_enc[alive].median()
    _reset_moments(optim, params, ids, alive)
    return int(ids.numel())


def _reset_moments(
    optim: torch.optim.Optimizer, params: dict[str, torch.Tensor], ids: torch.Tensor, alive: torch.Tensor
) -> None:
    for name, dim in (("W_enc", 1), ("b_enc", 0), ("W_dec", 0)):
        state = optim.state.get(params[name])
        if not state:
            continue
        if "exp_avg" in state:
            state["exp_avg"].index_fill_(dim, ids, 0.0)
        if "exp_avg_sq" in state:
            v = state["exp_avg_sq"]
            typical = v.index_select(dim, alive.nonzero(as_tuple=True)[0]).mean(dim, keepdim=True)
            v.index_copy_(dim, ids, typical.expand_as(v.index_select(dim, ids)).contiguous())
