"""One TopK SAE training step whose cost is one dense matmul: the encoder's forward.

Gao et al. (2024): ``z = TopK(W_enc(x - b_dec) + b_enc)``, ``x̂ = W_dec z + b_dec``, loss =
normalised MSE + α·AuxK, where AuxK rebuilds the residual ``x - x̂`` from the ``aux_k``
largest pre-activations of the dead latents only (that gradient is what revives them).

Only ``k`` latents per token carry the main loss' gradient, so the backward never forms the
dense [batch, d_sae] gradient: ``SparseEncode`` returns the chosen values and indices, and
its backward accumulates the encoder's gradient per latent with ``embedding_bag`` (a sorted
segment sum); the decoder is an ``embedding_bag`` too. AuxK works on the dead latents' own
columns, a small dense problem. On this CPU that makes a step about the price of the
encoder's forward, instead of four dense matmuls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


class SparseEncode(torch.autograd.Function):
    """(values, indices) of the top ``k`` of ``(x - c) @ w + b`` per row; gradients flow to ``w``,
    ``b`` and ``c`` through the chosen entries only."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        w: torch.Tensor,
        b: torch.Tensor,
        c: torch.Tensor,
        k: int,
        low_precision: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # c folded into the bias: no [batch, d_in] copy of x - c.
        b_eff = b - c @ w
        # bfloat16 pays only on a CPU with bfloat16 matrix units (train_config.fast_bfloat16 decides).
        pre = (x.bfloat16() @ w.bfloat16()).float() + b_eff if low_precision else x @ w + b_eff
        vals, idx = pre.topk(k, dim=-1, sorted=True)  # sorted is the faster kernel here
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(x, idx, w, c)
        ctx.d_sae = w.shape[1]
        return vals, idx

    @staticmethod
    def backward(ctx: Any, g_vals: torch.Tensor, _g_idx: Any) -> tuple[Any, ...]:  # type: ignore[override]
        x, idx, w, c = ctx.saved_tensors
        latent = idx.reshape(-1)
        token = torch.arange(x.shape[0]).repeat_interleave(idx.shape[1])
        grad = g_vals.reshape(-1)
        order = torch.argsort(latent)
        counts = torch.bincount(latent, minlength=ctx.d_sae)
        offsets = torch.cumsum(counts, 0) - counts
        # Row j of the result: sum over the tokens that chose latent j of grad · x[token].
        g_w = F.embedding_bag(token[order], x, offsets, mode="sum", per_sample_weights=grad[order])
        g_b = torch.zeros(ctx.d_sae).index_add_(0, latent, grad)
        # The input is x - c: its share of w's gradient is -g_b ⊗ c, added in place on the
        # per-latent rows (autograd through ``b - c @ w`` would build a dense outer product in
        # w's layout and then add it to this transposed one: ~10 % of a step here), and c's
        # gradient is -w g_b.
        g_w.addr_(g_b, c, alpha=-1.0)
        return None, g_w.t(), g_b, -(w @ g_b), None, None


MAX_AUX_LATENTS = 1024


@dataclass
class AuxRows:
    """AuxK's gradient, which touches only the dead latents: rows of W_encᵀ, b_enc and W_dec at
    ``latents``, and all of b_dec."""

    latents: torch.Tensor
    w_enc_t: torch.Tensor  # [n_dead, d_in]
    b_enc: torch.Tensor
    w_dec: torch.Tensor
    b_dec: torch.Tensor


@dataclass
class StepOut:
    # The step's loss (main + aux_coef·AuxK); its graph holds the main loss only, so train with
    # ``backward``, which adds AuxK's gradient row by row.
    loss: torch.Tensor
    mse: float  # normalised: this batch's FVU against the reference variance
    aux: float
    idx: torch.Tensor  # [batch, k] latents chosen
    aux_rows: AuxRows | None = None

    def backward(self, params: dict[str, torch.Tensor]) -> None:
        """The gradient of ``loss`` into ``params``' ``.grad``: autograd for the main loss, then
        AuxK's rows added in place (through autograd they would be a dense zero-filled
        [d_sae, d_in] gradient for W_enc and for W_dec each, plus two dense adds: 0.02–0.05 s of
        a 0.2–0.35 s step at batch 1,024–2,048 on two cores)."""
        self.loss.backward()
        rows = self.aux_rows
        if rows is None:
            return
        grads = {name: params[name].grad for name in ("W_enc", "b_enc", "W_dec", "b_dec")}
        for name, grad in grads.items():
            if grad is None:  # every parameter gets the main loss' gradient; this is a misuse
                raise RuntimeError(f"{name} has no gradient: backward of the main loss first")
        with torch.no_grad():
            grads["W_enc"].t().index_add_(0, rows.latents, rows.w_enc_t)
            grads["b_enc"].index_add_(0, rows.latents, rows.b_enc)
            grads["W_dec"].index_add_(0, rows.latents, rows.w_dec)
            grads["b_dec"].add_(rows.b_dec)


def decode(vals: torch.Tensor, idx: torch.Tensor, w_dec: torch.Tensor) -> torch.Tensor:
    """Sum of ``vals`` times the chosen decoder rows (no bias), [batch, d_in]."""
    return F.embedding_bag(idx, w_dec, mode="sum", per_sample_weights=vals)


def train_step(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    *,
    k: int,
    dead: torch.Tensor | None,
    aux_k: int,
    aux_coef: float,
    variance: float,
    low_precision: bool,
    aux_tokens: int | None = None,
    basis: torch.Tensor | None = None,
) -> StepOut:
    """Forward and loss of one batch ``x`` [batch, d_in] (AuxK's gradient already computed); the
    caller runs ``StepOut.backward`` and the optimiser.

    With ``basis`` [d_in, r] (orthonormal columns) the encoder reads ``x`` in that subspace:
    ``W_enc`` is [r, d_sae] and the SAE's full encoder is ``basis @ W_enc``, so the step's one
    dense matmul costs r/d_in of the full one (plus the projection, r/d_sae of it)."""
    w_enc, b_enc, w_dec, b_dec = params["W_enc"], params["b_enc"], params["W_dec"], params["b_dec"]
    # The encoder's input and centre: x·B - b_dec·B is (x - b_dec)·B; b_dec's gradient flows back via B.
    x_enc, centre_enc = (x, b_dec) if basis is None else (x @ basis, b_dec @ basis)
    # (x - b_dec) @ W_enc + b_enc, b_dec folded into the bias inside (no dense gradient through x - b_dec).
    vals, idx = SparseEncode.apply(x_enc, w_enc, b_enc, centre_enc, k, low_precision)
    x_hat = decode(torch.relu(vals), idx, w_dec) + b_dec
    mse = (x_hat - x).pow(2).sum(-1).mean() / variance
    loss = mse
    aux = torch.zeros(())
    aux_rows = None
    dead_ids = dead.nonzero(as_tuple=True)[0] if dead is not None else None
    if dead_ids is not None and dead_ids.numel() and aux_k > 0:
        # AuxK over the dead latents only: a small dense problem [batch, n_dead] (at most
        # MAX_AUX_LATENTS of them, drawn at random).
        if dead_ids.numel() > MAX_AUX_LATENTS:
            dead_ids = dead_ids[torch.randperm(dead_ids.numel())[:MAX_AUX_LATENTS]]
        # On about ``aux_tokens`` of the rows, every n-th (the trainer's batches are random tokens
        # sorted by position, so a stride spreads them over the corpus): with a few hundred dead
        # latents AuxK on the whole batch costs a third of the step.
        stride = 1 if aux_tokens is None else max(1, x.shape[0] // aux_tokens)
        rows = slice(None, None, stride)
        residual = (x[rows] - x_hat[rows]).detach()
        # On copies of the dead latents' rows (W_encᵀ's rows are W_enc's columns), differentiated
        # here; StepOut.backward adds the result to those rows of the gradients only.
        leaves = [
            w_enc.detach().t().index_select(0, dead_ids).requires_grad_(),
            b_enc.detach().index_select(0, dead_ids).requires_grad_(),
            w_dec.detach().index_select(0, dead_ids).requires_grad_(),
            b_dec.detach().clone().requires_grad_(),
        ]
        enc_t, bias, dec, centre = leaves
        with torch.enable_grad():
            # (x - b_dec) @ W + b with b_dec folded into the dead columns' bias.
            centre_in = centre if basis is None else centre @ basis
            pre = x_enc[rows] @ enc_t.t() + (bias - enc_t @ centre_in)
            if aux_k >= dead_ids.numel():  # every dead latent is among the top aux_k: no sort needed
                z = torch.relu(pre)
            else:
                top, pos = pre.topk(aux_k, dim=-1)
                z = torch.zeros_like(pre).scatter(-1, pos, torch.relu(top))
            aux = (z @ dec - residual).pow(2).sum(-1).mean() / residual.var(0).sum().clamp_min(1e-12)
            grads = torch.autograd.grad(aux_coef * aux, leaves)
        aux_rows = AuxRows(dead_ids, *grads)
        loss = loss + aux_coef * aux.detach()
    return StepOut(loss=loss, mse=float(mse.detach()), aux=float(aux.detach()), idx=idx, aux_rows=aux_rows)


@torch.no_grad()
def constrain_decoder(w_dec: torch.Tensor) -> None:
    """Before the step: drop the gradient along each (unit) decoder row, which only changes its norm."""
    if w_dec.grad is not None:
        w_dec.grad -= (w_dec.grad * w_dec).sum(-1, keepdim=True) * w_dec


@torch.no_grad()
def normalise_decoder(w_dec: torch.Tensor) -> None:
    w_dec /= w_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8)


@torch.no_grad()
def forget_latents(
    optim: torch.optim.Optimizer, params: dict[str, torch.Tensor], latents: torch.Tensor
) -> None:
    """Zero Adam's moments for ``latents`` (their encoder columns, encoder biases, decoder rows).

    A latent that dies keeps the second moment of the large gradients it had while alive, and
    Adam's β2 = 0.999 remembers it for thousands of steps: AuxK's small gradient then moves it
    by a sliver of the learning rate. With its moments zeroed, Adam's steps on it are full-size
    again (a few times the learning rate for the first hundred steps, as with no bias correction),
    so revival starts at once."""
    if latents.numel() == 0:
        return
    for name, index in (("W_enc", (slice(None), latents)), ("b_enc", latents), ("W_dec", latents)):
        state = optim.state.get(params[name])
        for key in ("exp_avg", "exp_avg_sq"):
            if state and key in state:
                state[key][index] = 0.0
