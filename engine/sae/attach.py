"""Whether an SAE reads a given model: its site's layer exists and its width is the SAE's d_in."""

from __future__ import annotations

from engine.models import ModelError, NeuronModel
from engine.sae.model import SaeError, SparseAutoencoder


def check_fits(sae: SparseAutoencoder, model: NeuronModel) -> None:
    """SaeError unless ``sae`` reads a site ``model`` has, of width ``sae.d_in``."""
    try:
        model.check_layer(sae.hook.layer)
        width = model.site_width(sae.hook.site)
    except ModelError as exc:
        raise SaeError(f"this SAE ({sae.hook.hook_name}) does not fit {model.name}: {exc}") from None
    if width != sae.d_in:
        raise SaeError(
            f"this SAE reads {sae.d_in} values at {sae.hook.hook_name}; {model.name} has {width} there"
        )
