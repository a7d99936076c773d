"""One model with hooks on its MLP neurons: per-token activations of any text.

Three families, one class. Where the neuron lives:

- gpt2:  output of ``h[L].mlp.act`` (BOS prepended by us; HF's tokenizer does not);
- llama: input of ``layers[L].mlp.down_proj``, i.e. ``act_fn(gate_proj(x)) * up_proj(x)``;
- bert:  output of ``encoder.layer[L].intermediate``.

That is the site ``mlp_post``; ``capture`` and its callers read the other hook sites too
(``resid_pre``, ``mlp_in``, ``mlp_out``, ``resid_post``: engine/models/sites.py says which
module each is), which is what an SAE trained elsewhere may read.

A forward pass stops as soon as layer L's site is captured (later layers cannot
change it), so mining a middle layer costs only the layers below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch
from torch import nn

from engine.models.registry import ModelError
from engine.models.sites import SITE_MODULES, blocks, hook_site
from engine.records import ActivationRecord

Neurons = int | slice | range | Sequence[int] | None


class UnitReader(Protocol):
    """What ``unit_record`` needs: NeuronModel, or engine.units.LatentModel."""

    def tokenize(self, text: str) -> list[str]: ...

    def activations(self, texts: list[str], layer: int, neurons: Neurons = None) -> list[torch.Tensor]: ...


def unit_record(units: UnitReader, layer: int, index: int, text: str) -> ActivationRecord:
    """Unit ``index``'s activation on every token of ``text`` (tokens as the model sees them)."""
    if not text.strip():
        raise ModelError("text is empty")
    tokens = units.tokenize(text)
    acts = units.activations([text], layer, [index])[0][:, 0]
    return ActivationRecord(tokens=tokens, activations=[float(a) for a in acts])


def unit_selector(units: Neurons, width: int, what: str, owner: str) -> slice | torch.Tensor:
    """Validated selector for the last dimension (``width`` wide) of activations: a slice or an
    index tensor; ModelError naming ``what`` (plural: "neurons", "latents") and ``owner``."""
    last = width - 1
    if units is None:
        return slice(None)
    if isinstance(units, int):
        units = [units]
    if isinstance(units, range | slice):
        start, stop, step = (units.start or 0), units.stop, (units.step or 1)
        stop = width if stop is None else stop
        if not (0 <= start < stop <= width) or step != 1:
            raise ModelError(f"{what} {start}-{stop - 1} out of range: {owner} has {what} 0-{last}")
        return slice(start, stop)
    picked = [int(n) for n in units]
    bad = [n for n in picked if not 0 <= n <= last]
    if bad or not picked:
        raise ModelError(
            f"{what.removesuffix('s')} {bad[0] if bad else '(none)'} out of range: "
            f"{owner} has {what} 0-{last}"
        )
    return torch.tensor(picked, dtype=torch.long)


class _Captured(Exception):
    """Raised by the hook to end the forward pass once the layer is captured."""


def _n_neurons(config: Any, family: str) -> int:
    if family == "gpt2":
        return int(config.n_inner or 4 * config.n_embd)
    return int(config.intermediate_size)


def _d_model(config: Any, family: str) -> int:
    return int(config.n_embd if family == "gpt2" else config.hidden_size)


class NeuronModel:
    """A loaded model plus the knowledge of where its neurons are. Built by ``load_model``."""

    def __init__(
        self, name: str, family: str, model: nn.Module, tokenizer: Any, device: torch.device
    ) -> None:
        self.name = name
        self.family = family
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = device
        self.dtype = next(model.parameters()).dtype
        config = model.config
        self.n_layers = len(blocks(model, family))
        self.n_neurons = _n_neurons(config, family)
        self.d_model = _d_model(config, family)  # width of the residual and MLP in/out sites
        self.max_positions = int(getattr(config, "n_positions", 0) or config.max_position_embeddings)
        self.prefix_ids, self.suffix_ids = self._special_ids()
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (tokenizer.eos_token_id or 0))
        # Most content tokens one input may hold once the special tokens are added.
        self.max_content_tokens = self.max_positions - len(self.prefix_ids) - len(self.suffix_ids)

    # -- tokens -------------------------------------------------------------
    def _special_ids(self) -> tuple[list[int], list[int]]:
        if self.family == "gpt2":
            return [int(self.tokenizer.bos_token_id)], []
        # Whatever the tokenizer adds around a text ([CLS] ... [SEP] for BERT).
        plain = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        full = self.tokenizer("a")["input_ids"]
        for start in range(len(full) - len(plain) + 1):
            if full[start : start + len(plain)] == plain:
                return list(full[:start]), list(full[start + len(plain) :])
        return [], []

    def encode(self, text: str) -> list[int]:
        """Content token ids of ``text`` (no special tokens)."""
        return list(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return [
            list(ids) for ids in self.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        ]

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Display strings: byte-level BPE tokens decoded one by one (" the"), WordPiece as is ("##ing")."""
        if self.family == "bert":
            return [str(t) for t in self.tokenizer.convert_ids_to_tokens(list(ids))]
        return [self.tokenizer.decode([int(i)]) for i in ids]

    def full_ids(self, text: str) -> list[int]:
        ids = self.encode(text)
        if len(ids) > self.max_content_tokens:
            raise ModelError(
                f"text is {len(ids)} tokens; {self.name} takes at most {self.max_content_tokens} tokens"
            )
        return [*self.prefix_ids, *ids, *self.suffix_ids]

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` as the model sees them, special tokens included."""
        return self.token_strings(self.full_ids(text))

    # -- checks -------------------------------------------------------------
    def check_layer(self, layer: int) -> None:
        if not 0 <= layer < self.n_layers:
            raise ModelError(f"layer {layer} out of range: {self.name} has layers 0-{self.n_layers - 1}")

    def check_site(self, site: str) -> None:
        if site not in SITE_MODULES[self.family]:
            raise ModelError(f"site {site!r} is not one of {', '.join(SITE_MODULES[self.family])}")

    def site_width(self, site: str) -> int:
        """Width of a site's vector: the neurons for ``mlp_post``, the model's width elsewhere."""
        self.check_site(site)
        return self.n_neurons if site == "mlp_post" else self.d_model

    def neuron_index(self, neurons: Neurons, site: str = "mlp_post") -> slice | torch.Tensor:
        """Validated selector for the last dimension of a layer's activations at ``site``."""
        what = "neurons" if site == "mlp_post" else f"{site} dimensions"
        return unit_selector(neurons, self.site_width(site), what, self.name)

    # -- forward ------------------------------------------------------------
    @torch.inference_mode()
    def capture(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        layer: int,
        neurons: Neurons = None,
        *,
        to_cpu: bool = True,
        site: str = "mlp_post",
    ) -> torch.Tensor:
        """Activations [batch, positions, selected units] of layer ``layer`` at ``site`` as
        float32 (on the CPU, or left on the model's device with ``to_cpu=False``)."""
        self.check_layer(layer)
        index = self.neuron_index(neurons, site)
        box: list[torch.Tensor] = []

        def keep(value: torch.Tensor) -> None:
            sel = (
                value[..., index]
                if isinstance(index, slice)
                else value.index_select(-1, index.to(value.device))
            )
            box.append(sel.float())
            raise _Captured

        handle = hook_site(self.model, self.family, layer, site, keep)
        try:
            self.model(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                use_cache=False,
            )
        except _Captured:
            pass
        finally:
            handle.remove()
        if not box:  # pragma: no cover - the hook always fires on a non-empty input
            raise RuntimeError(f"layer {layer} of {self.name} was not reached")
        return box[0].cpu() if to_cpu else box[0]

    def activations(
        self,
        texts: list[str],
        layer: int,
        neurons: Neurons = None,
        *,
        batch_size: int = 16,
        site: str = "mlp_post",
    ) -> list[torch.Tensor]:
        """Per text a tensor [n_tokens, n_selected_neurons]; tokens as in ``tokenize`` (specials included)."""
        self.check_layer(layer)
        self.neuron_index(neurons, site)
        all_ids = [self.full_ids(t) for t in texts]
        out: list[torch.Tensor] = []
        for start in range(0, len(all_ids), batch_size):
            chunk = all_ids[start : start + batch_size]
            width = max(len(ids) for ids in chunk)
            # Right padding: the real tokens keep positions 0..n-1 and the mask hides the rest.
            input_ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, ids in enumerate(chunk):
                input_ids[row, : len(ids)] = torch.tensor(ids)
                mask[row, : len(ids)] = 1
            acts = self.capture(input_ids, mask, layer, neurons, site=site)
            out.extend(acts[row, : len(ids)] for row, ids in enumerate(chunk))
        return out

    def window_activations(
        self,
        windows: torch.Tensor,
        layer: int,
        neurons: Neurons = None,
        *,
        to_cpu: bool = True,
        site: str = "mlp_post",
    ) -> torch.Tensor:
        """Activations [batch, window, neurons] of equal-length content windows.

        The model's special tokens are added around each window and cut off again."""
        batch = windows.shape[0]
        parts = [windows.long()]
        if self.prefix_ids:
            parts.insert(0, torch.tensor(self.prefix_ids, dtype=torch.long).expand(batch, -1))
        if self.suffix_ids:
            parts.append(torch.tensor(self.suffix_ids, dtype=torch.long).expand(batch, -1))
        input_ids = torch.cat(parts, dim=1)
        acts = self.capture(input_ids, torch.ones_like(input_ids), layer, neurons, to_cpu=to_cpu, site=site)
        start = len(self.prefix_ids)
        return acts[:, start : start + windows.shape[1]]

    def record(self, layer: int, neuron: int, text: str) -> ActivationRecord:
        """One neuron's activation on every token of ``text`` (tokens as the model sees them)."""
        return unit_record(self, layer, neuron, text)

    def __repr__(self) -> str:
        shape = f"layers={self.n_layers}, neurons={self.n_neurons}"
        return f"NeuronModel({self.name!r}, {self.family}, {shape}, device={self.device})"
