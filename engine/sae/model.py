"""A sparse autoencoder over one hook site: latents that (sparsely) rebuild the site's vector.

``encode(x) = act((norm(x) - b_dec·apply_b_dec_to_input) @ W_enc + b_enc)`` and
``decode(z) = unnorm(z @ W_dec + b_dec)``, where ``act`` is

- TopK (``k`` set; SAELens "topk"): the k largest pre-activations, through a ReLU, the rest 0;
- ReLU (``k`` None; SAELens "standard"/"relu"): every pre-activation through a ReLU.

Input normalisation, as SAELens' ``normalize_activations`` names it:

- ``none``;
- ``constant_norm_rescale``: each token scaled to norm sqrt(d_in) before encoding, and the
  reconstruction scaled back;
- ``layer_norm``: each token centred and divided by its std (no affine), undone on the way out;
- ``expected_average_only_in`` is a dataset-wide constant: the loader folds it into the
  weights (engine/sae/saelens_format.py), so it never reaches this class.

A per-token normalisation must be undone with that token's own statistics, so ``decode`` of
such an SAE needs the input: ``decode(z, like=x)``; ``forward(x)`` does it for you.

A **transcoder** (``hook_out`` set) reads one site and writes another: its latents are
encoded from ``hook`` (typically ``mlp_in``) and its decoder rebuilds ``hook_out`` (typically
``mlp_out``, width ``d_out``), so it stands in for the MLP. As in SAELens' ``Transcoder``, the
input never has ``b_dec`` (an output-site bias) taken off, ``decode`` never undoes the input's
normalisation, and a *skip* transcoder adds a linear path ``x @ W_skip.T`` (``W_skip [d_out,
d_in]``), so its ``decode`` needs the input too. Its latents are ReLU latents.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.sae.hooks import HookSite

NORMALIZATIONS = ("none", "constant_norm_rescale", "layer_norm")


class SaeError(ValueError):
    """An SAE we cannot build or read; the message says what is wrong."""


class SparseAutoencoder(nn.Module):
    W_enc: nn.Parameter
    b_enc: nn.Parameter
    W_dec: nn.Parameter
    b_dec: nn.Parameter

    def __init__(
        self,
        d_in: int,
        d_sae: int,
        k: int | None,
        hook: HookSite,
        *,
        apply_b_dec_to_input: bool = True,
        normalize_activations: str = "none",
        rescale_acts_by_decoder_norm: bool = False,
        meta: dict[str, Any] | None = None,
        hook_out: HookSite | None = None,
        d_out: int | None = None,
        skip: bool = False,
    ) -> None:
        super().__init__()
        if d_in < 1 or d_sae < 1:
            raise SaeError(f"d_in and d_sae must be positive, got {d_in} and {d_sae}")
        if hook_out is None and (d_out is not None or skip):
            raise SaeError("d_out and a skip connection belong to a transcoder: give its hook_out")
        if hook_out is not None:
            if k is not None:
                raise SaeError("a transcoder's latents are ReLU latents (SAELens has no TopK transcoder)")
            if apply_b_dec_to_input:
                raise SaeError(
                    "apply_b_dec_to_input is not supported for a transcoder (b_dec is its output's bias)"
                )
            if d_out is not None and d_out < 1:
                raise SaeError(f"d_out must be positive, got {d_out}")
        if k is not None and not 1 <= k <= d_sae:
            raise SaeError(f"k must be 1-{d_sae} (the number of latents), got {k}")
        if normalize_activations not in NORMALIZATIONS:
            raise SaeError(
                f"normalize_activations {normalize_activations!r} is not supported "
                f"(supported: {', '.join(NORMALIZATIONS)})"
            )
        self.d_in, self.d_sae, self.k, self.hook = d_in, d_sae, k, hook
        self.apply_b_dec_to_input = apply_b_dec_to_input
        self.normalize_activations = normalize_activations
        # SAELens' TopK option: rank latents by pre-activation times decoder norm.
        self.rescale_acts_by_decoder_norm = rescale_acts_by_decoder_norm
        self.meta: dict[str, Any] = dict(meta or {})
        # A transcoder's output site and width (an SAE rebuilds its own input: d_out = d_in).
        self.hook_out = hook_out
        self.d_out = d_in if d_out is None else d_out
        self.W_enc = nn.Parameter(torch.zeros(d_in, d_sae))
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.W_dec = nn.Parameter(torch.zeros(d_sae, self.d_out))
        self.b_dec = nn.Parameter(torch.zeros(self.d_out))
        self.W_skip: nn.Parameter | None = nn.Parameter(torch.zeros(self.d_out, d_in)) if skip else None

    @property
    def is_transcoder(self) -> bool:
        return self.hook_out is not None

    @property
    def kind(self) -> str:
        """What players and pages call it: "transcoder" or "SAE"."""
        return "transcoder" if self.is_transcoder else "SAE"

    @property
    def architecture(self) -> str:
        if self.is_transcoder:
            return "skip_transcoder" if self.W_skip is not None else "transcoder"
        return "topk" if self.k is not None else "standard"

    # -- normalisation --------------------------------------------------------
    def _norm_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(shift, scale) with ``normed = (x - shift) / scale`` per token, or None."""
        if self.normalize_activations == "constant_norm_rescale":
            scale = x.norm(dim=-1, keepdim=True) / self.d_in**0.5
            return torch.zeros_like(scale), scale.clamp_min(1e-12)
        if self.normalize_activations == "layer_norm":
            mu = x.mean(dim=-1, keepdim=True)
            return mu, (x - mu).std(dim=-1, keepdim=True) + 1e-5
        return None

    # -- the autoencoder ------------------------------------------------------
    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """Latent pre-activations [..., d_sae] (before TopK/ReLU)."""
        self._check_input(x)
        x = x.to(self.W_enc.dtype)
        stats = self._norm_stats(x)
        if stats is not None:
            x = (x - stats[0]) / stats[1]
        if self.apply_b_dec_to_input:
            x = x - self.b_dec
        pre = x @ self.W_enc + self.b_enc
        if self.rescale_acts_by_decoder_norm:
            pre = pre * self.W_dec.norm(dim=-1)
        return pre

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        if self.k is None:
            return torch.relu(pre)
        values, indices = pre.topk(self.k, dim=-1, sorted=False)
        return torch.zeros_like(pre).scatter_(-1, indices, torch.relu(values))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Non-negative latent activations [..., d_sae] of site vectors ``x`` [..., d_in]."""
        return self.activate(self.pre_activations(x))

    def decode(self, z: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction [..., d_out] of latents ``z``; ``like`` is the input they came from,
        needed only by an SAE that normalises each token and by a skip transcoder (see the
        module docstring)."""
        if z.shape[-1] != self.d_sae:
            raise SaeError(f"latents have width {z.shape[-1]}; this SAE has {self.d_sae}")
        z = z.to(self.W_dec.dtype)
        if self.rescale_acts_by_decoder_norm:
            z = z / self.W_dec.norm(dim=-1)
        out = z @ self.W_dec + self.b_dec
        if self.is_transcoder:
            if self.W_skip is None:
                return out
            if like is None:
                raise SaeError("a skip transcoder adds x @ W_skip.T: decode(z, like=x) needs the input x")
            self._check_input(like)
            return out + like.to(out.dtype) @ self.W_skip.T
        if self.normalize_activations == "none":
            return out
        if like is None:
            raise SaeError(
                f"this SAE normalises each token ({self.normalize_activations}): "
                "decode(z, like=x) needs the input x, or use forward(x)"
            )
        stats = self._norm_stats(like.to(out.dtype))
        assert stats is not None
        return out * stats[1] + stats[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``x`` (a transcoder's: of its output site)."""
        return self.decode(self.encode(x), like=x)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.shape[-1] != self.d_in:
            raise SaeError(
                f"input has width {x.shape[-1]}; this SAE reads {self.d_in} "
                f"({self.hook.site} of layer {self.hook.layer})"
            )

    def extra_repr(self) -> str:
        act = f"topk k={self.k}" if self.k is not None else "relu"
        out = f", d_out={self.d_out}, hook_out={self.hook_out}, skip={self.W_skip is not None}"
        return f"d_in={self.d_in}, d_sae={self.d_sae}, {act}, hook={self.hook}" + (
            out if self.is_transcoder else ""
        )
