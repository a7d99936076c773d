"""Which module's input or output each hook site is, per family (sites: engine/sae/hooks.py).

| site       | gpt2 (``h[L]``)        | llama (``layers[L]``)               | bert (``encoder.layer[L]``) |
|------------|------------------------|-------------------------------------|-----------------------------|
| resid_pre  | input of ``h[L]``      | input of ``layers[L]``              | input of ``layer[L]``       |
| mlp_in     | input of ``ln_2``      | input of ``post_attention_layernorm`` | input of ``intermediate`` |
| mlp_in_normed | output of ``ln_2``  | output of ``post_attention_layernorm`` | input of ``intermediate`` |
| mlp_post   | output of ``mlp.act``  | input of ``mlp.down_proj``          | output of ``intermediate``  |
| mlp_out    | output of ``mlp``      | output of ``mlp``                   | output of ``output.dense``  |
| resid_post | output of ``h[L]``     | output of ``layers[L]``             | output of ``layer[L]``      |

"input" is the block's hidden states (its first argument), "output" the module's tensor (the
first element when a module returns a tuple). GPT-2 and Llama normalise before each sub-layer,
so ``mlp_in`` is the residual stream after attention; BERT normalises after the residual sum,
so its ``mlp_in`` is the attention block's (already normalised) output, which is also the
residual stream there, and its ``mlp_out`` is the MLP's output before the sum and LayerNorm.
``mlp_in_normed`` is what the MLP itself reads (after its LayerNorm: where transcoders read);
in BERT that is ``mlp_in`` again.
Dropout is off (eval mode), so an output equals the module's computation without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

SITE_MODULES: dict[str, dict[str, tuple[str, bool]]] = {
    # site -> (module path inside the block, "" for the block itself; True = its input)
    "gpt2": {
        "resid_pre": ("", True),
        "mlp_in": ("ln_2", True),
        "mlp_in_normed": ("ln_2", False),
        "mlp_post": ("mlp.act", False),
        "mlp_out": ("mlp", False),
        "resid_post": ("", False),
    },
    "llama": {
        "resid_pre": ("", True),
        "mlp_in": ("post_attention_layernorm", True),
        "mlp_in_normed": ("post_attention_layernorm", False),
        "mlp_post": ("mlp.down_proj", True),
        "mlp_out": ("mlp", False),
        "resid_post": ("", False),
    },
    "bert": {
        "resid_pre": ("", True),
        "mlp_in": ("intermediate", True),
        "mlp_in_normed": ("intermediate", True),
        "mlp_post": ("intermediate", False),
        "mlp_out": ("output.dense", False),
        "resid_post": ("", False),
    },
}


def blocks(model: nn.Module, family: str) -> nn.ModuleList:
    if family == "gpt2":
        return model.h  # type: ignore[return-value]
    if family == "llama":
        return model.layers  # type: ignore[return-value]
    return model.encoder.layer  # type: ignore[return-value,union-attr]


def site_module(model: nn.Module, family: str, layer: int, site: str) -> tuple[nn.Module, bool]:
    """(module, True if the site is its input / False if its output)."""
    path, is_input = SITE_MODULES[family][site]
    module: nn.Module = blocks(model, family)[layer]
    for part in path.split(".") if path else []:
        module = getattr(module, part)
    return module, is_input


def _first_tensor(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, tuple | list) else value


def hook_site(
    model: nn.Module,
    family: str,
    layer: int,
    site: str,
    fn: Callable[[torch.Tensor], torch.Tensor | None],
) -> torch.utils.hooks.RemovableHandle:
    """Call ``fn`` on the site's tensor in every forward; a tensor it returns replaces the site's
    value for the rest of the forward pass (how an SAE's reconstruction is spliced in)."""
    module, is_input = site_module(model, family, layer, site)
    if is_input:

        def pre(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if args:
                new = fn(args[0])
                return None if new is None else ((new, *args[1:]), kwargs)
            new = fn(kwargs["hidden_states"])
            return None if new is None else (args, {**kwargs, "hidden_states": new})

        return module.register_forward_pre_hook(pre, with_kwargs=True)

    def post(_m: nn.Module, _args: tuple[Any, ...], out: Any) -> Any:
        new = fn(_first_tensor(out))
        if new is None:
            return None
        return (new, *out[1:]) if isinstance(out, tuple) else new

    return module.register_forward_hook(post)
