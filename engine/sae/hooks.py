"""Where an SAE reads its input: a ``HookSite`` (layer, site), and the names others give it.

Five sites per layer, the same five for every family (what each one is in each family's
modules is in engine/models/sites.py):

- ``resid_pre``  the residual stream entering block L;
- ``mlp_in``     the residual stream entering the MLP sub-layer, before its LayerNorm
                 (TransformerLens ``hook_mlp_in`` = ``hook_resid_mid``); in BERT, which
                 normalises after the residual sum, the attention block's output;
- ``mlp_in_normed`` what the MLP itself reads: ``mlp_in`` through the MLP's LayerNorm
                 (TransformerLens ``ln2.hook_normalized``, circuit-tracer's ``mlp.hook_in``),
                 where most transcoders read; in BERT the same vector as ``mlp_in``;
- ``mlp_post``   the MLP's neurons (what ``NeuronModel`` captures: the puzzle of a neuron);
- ``mlp_out``    the MLP's output before it is added to the residual stream;
- ``resid_post`` the residual stream leaving block L.

SAELens names a site by its TransformerLens hook (``blocks.3.mlp.hook_post``) or, for a model
run through Hugging Face directly, by the module whose output it hooks
(``model.layers.3.mlp``); ``hook_site`` reads both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SITES = ("resid_pre", "mlp_in", "mlp_in_normed", "mlp_post", "mlp_out", "resid_post")


class HookNameError(ValueError):
    """A hook name we cannot map to a HookSite; the message says which names we read."""


@dataclass(frozen=True)
class HookSite:
    layer: int
    site: str = "mlp_post"

    def __post_init__(self) -> None:
        if self.site not in SITES:
            raise HookNameError(f"site {self.site!r} is not one of {', '.join(SITES)}")
        if not isinstance(self.layer, int) or self.layer < 0:
            raise HookNameError(f"layer must be a non-negative integer, got {self.layer!r}")

    @property
    def hook_name(self) -> str:
        """The TransformerLens name SAELens writes for this site."""
        return _TL_NAME[self.site].format(L=self.layer)


_TL_NAME = {
    "resid_pre": "blocks.{L}.hook_resid_pre",
    "mlp_in": "blocks.{L}.hook_mlp_in",
    "mlp_in_normed": "blocks.{L}.ln2.hook_normalized",
    "mlp_post": "blocks.{L}.mlp.hook_post",
    "mlp_out": "blocks.{L}.hook_mlp_out",
    "resid_post": "blocks.{L}.hook_resid_post",
}

# TransformerLens hook names (the part after "blocks.{L}.").
_TL_SITES = {
    "hook_resid_pre": "resid_pre",
    "hook_mlp_in": "mlp_in",
    "hook_resid_mid": "mlp_in",  # the same tensor: TL's hook_mlp_in is a copy of resid_mid
    "ln2.hook_normalized": "mlp_in_normed",  # pre-LN blocks: the MLP's input (not BERT's, below)
    "mlp.hook_in": "mlp_in_normed",  # the MLP module's input (circuit-tracer's transcoders)
    "mlp.hook_post": "mlp_post",
    "hook_mlp_out": "mlp_out",
    "hook_resid_post": "resid_post",
}

# Hugging Face module names whose *output* is the site (SAELens' HookedProxyLM hooks a module's
# output), per family: the block container and, after "{container}.{L}.", the module path.
_HF_SITES: dict[str, tuple[str, dict[str, str]]] = {
    "gpt2": (
        "h",
        {
            "": "resid_post",
            "mlp": "mlp_out",
            "mlp.c_proj": "mlp_out",
            "mlp.act": "mlp_post",
            "ln_2": "mlp_in_normed",
        },
    ),
    "llama": (
        "layers",
        {
            "": "resid_post",
            "mlp": "mlp_out",
            "mlp.down_proj": "mlp_out",
            "post_attention_layernorm": "mlp_in_normed",
        },
    ),
    "bert": (
        "encoder.layer",
        {
            "": "resid_post",
            "output": "resid_post",  # BertOutput ends with the residual sum and LayerNorm
            "output.dense": "mlp_out",
            "intermediate": "mlp_post",
            "intermediate.intermediate_act_fn": "mlp_post",
            "attention": "mlp_in",  # post-LN BERT: the attention block's output feeds the MLP
            "attention.output": "mlp_in",
        },
    ),
}
# Wrappers in front of the bare model's module names (GPT2LMHeadModel.transformer, ...).
_HF_PREFIXES = ("transformer.", "model.", "bert.", "base_model.")

_TL_RE = re.compile(r"^blocks\.(\d+)\.(.+)$")


def hook_site(hook_name: str, family: str | None = None) -> HookSite:
    """The HookSite a SAELens ``hook_name`` names; ``family`` (gpt2/llama/bert), when known,
    restricts Hugging Face module names to that family's."""
    name = hook_name.strip()
    match = _TL_RE.match(name)
    if match and match.group(2) == "ln2.hook_normalized" and family == "bert":
        # TransformerLens' BERT normalises after each sum: its ln2 is the block's output norm.
        raise HookNameError(
            f"hook {hook_name!r}: in a BERT block ln2 normalises the block's output, not the MLP's "
            f"input; use blocks.{match.group(1)}.mlp.hook_in or blocks.{match.group(1)}.hook_resid_post"
        )
    if match and match.group(2) in _TL_SITES:
        return HookSite(int(match.group(1)), _TL_SITES[match.group(2)])
    found = _hf_site(name, family)
    if found is not None:
        return found
    known = ", ".join(f"blocks.L.{suffix}" for suffix in _TL_SITES)
    raise HookNameError(
        f"hook {hook_name!r} is not a site we can read: use one of {known}, or a Hugging Face "
        "module of a GPT-2, Llama or BERT block (e.g. model.layers.3.mlp, encoder.layer.3.intermediate)"
    )


def _hf_site(name: str, family: str | None) -> HookSite | None:
    families = [family] if family else list(_HF_SITES)
    candidates = [name] + [name[len(p) :] for p in _HF_PREFIXES if name.startswith(p)]
    for fam in families:
        if fam not in _HF_SITES:
            raise HookNameError(f"family {fam!r} is not one of {', '.join(_HF_SITES)}")
        container, modules = _HF_SITES[fam]
        pattern = re.compile(rf"^{re.escape(container)}\.(\d+)(?:\.(.+))?$")
        for candidate in candidates:
            match = pattern.match(candidate)
            if match and (match.group(2) or "") in modules:
                return HookSite(int(match.group(1)), modules[match.group(2) or ""])
    return None
