"""A least-squares refit of a trained TopK SAE's decoder, the encoder fixed.

After training, the codes ``z = TopK(W_enc(x - b_dec) + b_enc)`` are fixed and the decoder is a
plain linear map from them, so the best decoder for those codes is a least-squares problem:
minimise Σ‖x - z W_dec - b_dec‖² + λ‖W_dec - W_old‖² over W_dec and b_dec. The codes are
sparse (k per token), so ``ZᵀZ`` (d_sae²) and ``ZᵀX`` (d_sae x d_in) accumulate at the cost of
one encoder pass over the tokens plus k² scatter-adds per token; one Cholesky solve of a
d_sae-sized system gives the new decoder. The ridge pulls toward the old decoder rather than
toward zero, so a latent that never fired on these tokens keeps its trained row.

``b_dec`` is also subtracted from the input before the encoder (SAELens'
``apply_b_dec_to_input``), so ``b_enc`` absorbs its change: ``b_enc += (b_dec_new - b_dec_old)
W_enc`` leaves every pre-activation, hence every code, as it was; the encoder is untouched
otherwise, so the refit SAE is the same TopK SAE with a better decoder.

The refit rows are not unit-norm (on MiniLM layer 3 their norms are mostly above 1: the trained
codes are a little too small). ``renormalise=True`` moves each row's norm ``n_j`` into its latent
(``W_enc[:, j]`` and ``b_enc[j]`` times ``n_j``) so the stored rows are unit-norm again, as
training keeps them; but that changes which latents win the TopK, and on MiniLM it gave back half
of the refit's gain or more (docs/SAE.md), so by default the norms stay in the decoder: a latent's
value times its row's norm is the length of its contribution.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F


def accumulate_codes(
    params: dict[str, torch.Tensor], batches: Iterable[torch.Tensor], k: int
) -> dict[str, torch.Tensor]:
    """The refit's sufficient statistics over ``batches`` of inputs [b, d_in], float64:
    ``zz`` = ZᵀZ, ``zx`` = ZᵀX, ``z1`` = Zᵀ1, ``x1`` = Xᵀ1, ``xx`` = Σ‖x‖² and ``n`` (tokens)."""
    w_enc, b_enc, b_dec = params["W_enc"].detach(), params["b_enc"].detach(), params["b_dec"].detach()
    d_in, d_sae = w_enc.shape
    b_eff = b_enc - b_dec @ w_enc
    zz = torch.zeros(d_sae * d_sae, dtype=torch.float64)
    zx = torch.zeros(d_sae, d_in, dtype=torch.float64)
    z1 = torch.zeros(d_sae, dtype=torch.float64)
    x1 = torch.zeros(d_in, dtype=torch.float64)
    xx = torch.zeros((), dtype=torch.float64)
    n = 0
    with torch.no_grad():
        for x in batches:
            vals, idx = (x @ w_enc + b_eff).topk(k, dim=-1, sorted=False)
            vals = torch.relu(vals)
            # ZᵀZ: the k² products of each token's own codes, scattered into the flat matrix.
            pair_index = (idx.unsqueeze(-1) * d_sae + idx.unsqueeze(-2)).reshape(-1)
            pair_value = (vals.unsqueeze(-1) * vals.unsqueeze(-2)).reshape(-1)
            zz.index_add_(0, pair_index, pair_value.double())
            # ZᵀX: per latent, the sum over the tokens that chose it of value · x (a segment sum).
            latent = idx.reshape(-1)
            token = torch.arange(x.shape[0]).repeat_interleave(k)
            order = torch.argsort(latent)
            counts = torch.bincount(latent, minlength=d_sae)
            offsets = torch.cumsum(counts, 0) - counts
            weights = vals.reshape(-1)[order]
            zx += F.embedding_bag(token[order], x, offsets, mode="sum", per_sample_weights=weights).double()
            z1.index_add_(0, latent, vals.reshape(-1).double())
            x1 += x.double().sum(0)
            xx += x.double().pow(2).sum()
            n += x.shape[0]
    return {"zz": zz.view(d_sae, d_sae), "zx": zx, "z1": z1, "x1": x1, "xx": xx, "n": torch.tensor(float(n))}


def fvu_of(stats: dict[str, torch.Tensor], w_dec: torch.Tensor, b_dec: torch.Tensor) -> float:
    """The FVU of decoder (``w_dec``, ``b_dec``) on the tokens of ``stats``, from the statistics
    alone: Σ‖x - zW - b‖² expanded into ZᵀZ, ZᵀX, Zᵀ1, Xᵀ1 and Σ‖x‖²."""
    w, b, n = w_dec.double(), b_dec.double(), float(stats["n"])
    z1, x1 = stats["z1"], stats["x1"]
    err = (
        stats["xx"]
        - 2 * (w * stats["zx"]).sum()
        - 2 * b @ x1
        + (w * (stats["zz"] @ w)).sum()
        + 2 * b @ (z1 @ w)
        + n * b @ b
    )
    variance = stats["xx"] - x1 @ x1 / n
    return float(err / variance)


def solve_decoder(
    stats: dict[str, torch.Tensor], w_old: torch.Tensor, ridge: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_dec, b_dec) minimising Σ‖x - z W - b‖² + λ‖W - W_old‖², with λ = ``ridge`` times the
    mean diagonal of the centred ZᵀZ (so it does not depend on the inputs' scale)."""
    n = float(stats["n"])
    z1, x1 = stats["z1"], stats["x1"]
    # Centred: b drops out, W from the centred normal equations, then b from the means.
    gram = stats["zz"] - torch.outer(z1, z1) / n
    rhs = stats["zx"] - torch.outer(z1, x1) / n
    lam = ridge * float(gram.diagonal().mean().clamp_min(1e-12))
    gram = gram + lam * torch.eye(gram.shape[0], dtype=gram.dtype)
    rhs = rhs + lam * w_old.detach().double()
    chol = torch.linalg.cholesky(gram)
    w = torch.cholesky_solve(rhs, chol)
    b = (x1 - z1 @ w) / n
    return w.float(), b.float()


@torch.no_grad()
def refit_decoder(
    params: dict[str, torch.Tensor],
    batches: Iterable[torch.Tensor],
    k: int,
    *,
    ridge: float = 1e-2,
    renormalise: bool = False,
) -> tuple[float, float]:
    """Refit ``params``' decoder (W_dec, b_dec) in place on the tokens ``batches`` yields,
    the codes fixed (module docstring); ``b_enc`` adjusted so that the codes stay those it had
    (renormalising: up to each latent's new decoder norm). Returns the FVU on those tokens
    before and after (with the same codes: before any renormalisation)."""
    stats = accumulate_codes(params, batches, k)
    w_new, b_new = solve_decoder(stats, params["W_dec"], ridge)
    fvus = fvu_of(stats, params["W_dec"], params["b_dec"]), fvu_of(stats, w_new, b_new)
    w_enc, b_enc = params["W_enc"], params["b_enc"]
    b_enc += (b_new - params["b_dec"]) @ w_enc
    params["b_dec"].copy_(b_new)
    if renormalise:
        norms = w_new.norm(dim=-1).clamp_min(1e-8)
        w_new = w_new / norms.unsqueeze(-1)
        w_enc *= norms
        b_enc *= norms
    params["W_dec"].copy_(w_new)
    return fvus
