"""A small SAE for tests, built (not trained) so its latents fire on real activations.

Its encoder directions are real site vectors of the model (tokens of a few sentences, centred),
so each latent fires where the model's vector resembles one of those tokens: sparse, varied
and quick to build. Saved in SAELens' format like any SAE the game loads.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.models import NeuronModel
from engine.sae import HookSite, SparseAutoencoder, save_sae

SENTENCES = [
    "The cat sat on the mat and looked at the dog.",
    "Numbers like 12, 345 and 6789 appear in text; so do dates: 1999-12-31.",
    "def main(): import sys; return sys.argv",
    "She said hello to the world and everybody laughed in Paris.",
]


def build_sae(
    model: NeuronModel, layer: int, d_sae: int = 64, k: int = 8, site: str = "mlp_post"
) -> SparseAutoencoder:
    acts = torch.cat(model.activations(SENTENCES, layer, site=site))  # [tokens, d_in]
    mean = acts.mean(dim=0)
    generator = torch.Generator().manual_seed(layer)
    rows = torch.randint(0, acts.shape[0], (d_sae,), generator=generator)
    directions = torch.nn.functional.normalize(
        acts[rows] - mean + 0.01 * torch.randn(d_sae, acts.shape[1], generator=generator), dim=1
    )
    sae = SparseAutoencoder(acts.shape[1], d_sae, k, HookSite(layer, site), meta={"model_name": model.name})
    with torch.no_grad():
        sae.W_enc.copy_(directions.T)
        sae.W_dec.copy_(directions)
        sae.b_dec.copy_(mean)
    return sae.eval()


def save_small_sae(model: NeuronModel, layer: int, out: Path, d_sae: int = 64, k: int = 8) -> Path:
    return save_sae(build_sae(model, layer, d_sae, k), out)


def random_sae(d_in: int, layer: int, expansion: int, k: int) -> SparseAutoencoder:
    """An SAE of random unit decoder rows (encoder = decoder transposed), seeded: for benches
    that time the encoder and mining, where what the latents mean does not matter."""
    sae = SparseAutoencoder(d_in, expansion * d_in, k, HookSite(layer))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        sae.W_dec.copy_(torch.nn.functional.normalize(torch.randn(sae.d_sae, d_in, generator=gen), dim=-1))
        sae.W_enc.copy_(sae.W_dec.t())
    return sae.eval().requires_grad_(False)


def build_transcoder(
    model: NeuronModel,
    layer: int,
    d_sae: int = 64,
    *,
    skip: bool = False,
    site_in: str = "mlp_in",
    site_out: str = "mlp_out",
) -> SparseAutoencoder:
    """A small transcoder from ``site_in`` to ``site_out`` of ``layer``, built like ``build_sae``:
    encoder directions are real (centred) input-site vectors, so its ReLU latents fire on real
    text; its decoder maps them to the output site by least squares over the same tokens (plus,
    with ``skip``, a small random W_skip)."""
    x_in = torch.cat(model.activations(SENTENCES, layer, site=site_in))
    x_out = torch.cat(model.activations(SENTENCES, layer, site=site_out))
    generator = torch.Generator().manual_seed(100 + layer)
    rows = torch.randint(0, x_in.shape[0], (d_sae,), generator=generator)
    centred = x_in[rows] - x_in.mean(dim=0)
    directions = torch.nn.functional.normalize(
        centred + 0.01 * torch.randn(d_sae, x_in.shape[1], generator=generator), dim=1
    )
    sae = SparseAutoencoder(
        x_in.shape[1],
        d_sae,
        None,
        HookSite(layer, site_in),
        apply_b_dec_to_input=False,
        hook_out=HookSite(layer, site_out),
        d_out=x_out.shape[1],
        skip=skip,
        meta={"model_name": model.name},
    )
    with torch.no_grad():
        sae.W_enc.copy_(directions.T)
        # A bias that keeps each latent quiet below half its direction's typical projection.
        sae.b_enc.copy_(-0.5 * (centred * directions).sum(dim=1).clamp_min(0))
        if sae.W_skip is not None:
            sae.W_skip.copy_(0.01 * torch.randn(x_out.shape[1], x_in.shape[1], generator=generator))
        z = sae.encode(x_in)
        target = x_out - (x_in @ sae.W_skip.T if sae.W_skip is not None else 0)
        ones = torch.ones(z.shape[0], 1)
        solution = torch.linalg.lstsq(torch.cat([z, ones], dim=1), target).solution
        sae.W_dec.copy_(solution[:-1])
        sae.b_dec.copy_(solution[-1])
    return sae.eval().requires_grad_(False)
