"""Sparse autoencoders: latents that rebuild one hook site's vector from a few directions.

``SparseAutoencoder`` (TopK or ReLU) over a ``HookSite``; ``save_sae``/``load_sae`` in
SAELens' on-disk format; ``hook_site`` maps SAELens / TransformerLens / Hugging Face hook
names to sites. docs/SAE.md says what a latent is here and how one is trained.
"""

from engine.sae.attach import check_fits
from engine.sae.hooks import SITES, HookNameError, HookSite, hook_site
from engine.sae.model import SaeError, SparseAutoencoder
from engine.sae.saelens_format import load_sae, sae_config, save_sae

__all__ = [
    "SITES",
    "HookNameError",
    "HookSite",
    "SaeError",
    "SparseAutoencoder",
    "check_fits",
    "hook_site",
    "load_sae",
    "sae_config",
    "save_sae",
]
