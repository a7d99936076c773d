"""Whether an SAE reads a given model: its site's layer exists and its width is the SAE's d_in
(and, for a transcoder, that the site it writes exists with width d_out)."""

from __future__ import annotations

from engine.models import ModelError, NeuronModel
from engine.sae.hooks import HookSite
from engine.sae.model import SaeError, SparseAutoencoder


def check_fits(sae: SparseAutoencoder, model: NeuronModel) -> None:
    """SaeError unless ``sae`` reads a site ``model`` has, of width ``sae.d_in`` (and a
    transcoder writes one of width ``sae.d_out``)."""
    _check_site(sae, model, sae.hook, sae.d_in, "reads")
    if sae.hook_out is not None:
        _check_site(sae, model, sae.hook_out, sae.d_out, "writes")


def _check_site(sae: SparseAutoencoder, model: NeuronModel, hook: HookSite, width: int, verb: str) -> None:
    what = f"this {sae.kind}"
    try:
        model.check_layer(hook.layer)
        has = model.site_width(hook.site)
    except ModelError as exc:
        raise SaeError(f"{what} ({hook.hook_name}) does not fit {model.name}: {exc}") from None
    if has != width:
        raise SaeError(f"{what} {verb} {width} values at {hook.hook_name}; {model.name} has {has} there")
