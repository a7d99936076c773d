"""Latents as units: an SAE's (or transcoder's) latents read through a model, like neurons.

``LatentModel`` wraps a ``NeuronModel`` and a ``SparseAutoencoder`` and offers what mining
(engine/mining.py), advanced mode (engine/activations.py) and related units use of a
NeuronModel — ``n_neurons`` (here d_sae), ``capture``, ``window_activations``,
``activations``, ``record`` selecting latents, with the model's own tokenization — so a
campaign of latents is mined from the same windows, in the same batches, as one of neurons.
A forward pass runs the model up to the SAE's hook site (and no further), then the encoder.
A transcoder's latents are its encoder's too, so they are read at its *input* site
(``sae.hook``, e.g. ``mlp_in``); its decoder writes the output site (``sae.hook_out``, e.g.
``mlp_out``), which is what ``decoder_neighbours`` compares.

``load_unit_model(model, source)`` gives either: the NeuronModel for source "neurons", else a
LatentModel over the SAE named ``source`` in data_dir/saes/<source>/.
``decoder_neighbours`` ranks latents by the cosine similarity of their decoder directions.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from engine.models import ModelError, NeuronModel, load_model
from engine.models.neuron_model import Neurons, unit_record, unit_selector
from engine.records import ActivationRecord
from engine.sae import SaeError, SparseAutoencoder, check_fits, load_sae

NEURONS = "neurons"  # the source name of a layer's MLP neurons


def sae_dir(data_dir: Path, name: str) -> Path:
    """Where the SAE called ``name`` is stored (``neuronquest sae train`` writes there too)."""
    return Path(data_dir) / "saes" / name


def install_sae(data_dir: Path, spec: str) -> str:
    """The name of the SAE ``spec`` means: one stored in data_dir/saes/ by that name, or a
    directory in SAELens' format, copied there under its own directory name so every process
    of this data dir (workers on the campaign's puzzles) finds it by name."""
    if "/" not in spec and sae_dir(data_dir, spec).is_dir():
        return spec
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ModelError(f"no SAE named {spec!r} in {Path(data_dir) / 'saes'}, and no directory {spec}")
    name = path.resolve().name
    target = sae_dir(data_dir, name)
    if target.exists():
        same = filecmp.dircmp(path, target)
        if target.resolve() == path.resolve() or not (same.diff_files or same.left_only or same.right_only):
            return name
        raise ModelError(
            f"another SAE named {name!r} is stored in {target}: rename the directory to add this one"
        )
    tmp = target.with_name(f".{name}.copying")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(path, tmp)
    os.replace(tmp, target)  # whole or absent: a crash mid-copy leaves no half SAE under its name
    return name


class LatentModel:
    """The latents of ``sae`` as ``NeuronModel``-like units of ``base`` (the SAE's model)."""

    def __init__(self, base: NeuronModel, sae: SparseAutoencoder, source: str) -> None:
        try:
            check_fits(sae, base)
        except SaeError as exc:
            raise ModelError(str(exc)) from None
        self.base = base
        self.sae = sae.to(base.device).eval()
        self.source = source
        # The site the latents are encoded from: a transcoder's input site, not its output.
        self.layer, self.site = sae.hook.layer, sae.hook.site
        self.kind = sae.kind  # "SAE" or "transcoder": what the unit's source is
        # What callers read of a NeuronModel: the same model, the same tokens.
        self.name, self.family, self.tokenizer, self.device = (
            base.name,
            base.family,
            base.tokenizer,
            base.device,
        )
        self.n_layers = base.n_layers
        self.n_neurons = sae.d_sae
        self.prefix_ids, self.suffix_ids, self.pad_id = base.prefix_ids, base.suffix_ids, base.pad_id
        self.max_positions, self.max_content_tokens = base.max_positions, base.max_content_tokens

    # -- tokens: the model's own ----------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.base.encode(text)

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        return self.base.encode_many(texts)

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        return self.base.token_strings(ids)

    def full_ids(self, text: str) -> list[int]:
        return self.base.full_ids(text)

    def tokenize(self, text: str) -> list[str]:
        return self.base.tokenize(text)

    # -- checks ---------------------------------------------------------------------
    def check_layer(self, layer: int) -> None:
        """An SAE reads one layer: any other is refused (its latents do not exist there)."""
        if layer != self.layer:
            raise ModelError(
                f"{self.kind} {self.source} reads layer {self.layer} of {self.name}, not layer {layer}"
            )

    def neuron_index(self, neurons: Neurons) -> slice | torch.Tensor:
        """Validated selector over the latents (as NeuronModel.neuron_index over neurons)."""
        return unit_selector(neurons, self.n_neurons, "latents", f"{self.kind} {self.source}")

    # -- forward ----------------------------------------------------------------------
    def _latents(self, site_values: torch.Tensor, neurons: Neurons) -> torch.Tensor:
        """The selected latents [..., selected] of site vectors [..., d_in], as float32."""
        index = self.neuron_index(neurons)
        with torch.inference_mode():
            z = self.sae.encode(site_values.to(self.device)).float()
        return z[..., index] if isinstance(index, slice) else z.index_select(-1, index.to(z.device))

    def capture(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        layer: int,
        neurons: Neurons = None,
        *,
        to_cpu: bool = True,
    ) -> torch.Tensor:
        """Latent activations [batch, positions, selected latents] (float32)."""
        self.check_layer(layer)
        x = self.base.capture(input_ids, attention_mask, layer, None, to_cpu=False, site=self.site)
        z = self._latents(x, neurons)
        return z.cpu() if to_cpu else z

    def window_activations(
        self, windows: torch.Tensor, layer: int, neurons: Neurons = None, *, to_cpu: bool = True
    ) -> torch.Tensor:
        """Latent activations [batch, window, latents] of equal-length content windows."""
        self.check_layer(layer)
        self.neuron_index(neurons)
        x = self.base.window_activations(windows, layer, None, to_cpu=False, site=self.site)
        z = self._latents(x, neurons)
        return z.cpu() if to_cpu else z

    def activations(
        self, texts: list[str], layer: int, neurons: Neurons = None, *, batch_size: int = 16
    ) -> list[torch.Tensor]:
        """Per text a tensor [n_tokens, selected latents]; tokens as in ``tokenize``."""
        self.check_layer(layer)
        self.neuron_index(neurons)
        per_text = self.base.activations(texts, layer, None, batch_size=batch_size, site=self.site)
        return [self._latents(x, neurons).cpu() for x in per_text]

    def record(self, layer: int, neuron: int, text: str) -> ActivationRecord:
        """One latent's activation on every token of ``text``."""
        return unit_record(self, layer, neuron, text)

    def __repr__(self) -> str:
        where = f"{self.site} of layer {self.layer}"
        return f"LatentModel({self.name!r}, {self.kind} {self.source!r}, {where}, latents={self.n_neurons})"


UnitModel = NeuronModel | LatentModel

_cache: dict[tuple[str, str, str, str], LatentModel] = {}
_lock = threading.Lock()


def load_unit_model(
    model: str, source: str, *, device: str = "auto", data_dir: Path | None = None
) -> UnitModel:
    """The units of a campaign: ``model``'s neurons, or the latents of SAE ``source`` on it
    (data_dir/saes/<source>/), cached per process like the models themselves."""
    base = load_model(model, device=device, data_dir=data_dir)
    if source == NEURONS:
        return base
    if data_dir is None:
        raise ModelError(f"SAE {source!r}: no data dir to find it in")
    key = (model, source, device, str(data_dir))
    with _lock:
        if key not in _cache:
            try:
                sae = load_sae(sae_dir(data_dir, source), family=base.family)
            except SaeError as exc:
                raise ModelError(f"SAE {source!r}: {exc}") from None
            _cache[key] = LatentModel(base, sae, source)
        return _cache[key]


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def decoder_neighbours(
    sae: SparseAutoencoder, latents: Sequence[int], k: int, *, chunk: int = 1024
) -> list[list[tuple[int, float]]]:
    """Per latent of ``latents``, the ``k`` others of ``latents`` whose decoder directions are
    most alike (cosine similarity), best first, ties by position: [(position, cosine)].

    Decoder directions are what a latent writes into the model, so two latents with close
    directions mean much the same to it. Row chunks keep a 6,144-latent SAE's similarity
    matrix (150 MB) from ever being whole in memory.
    """
    with torch.no_grad():
        w = sae.W_dec.detach().float()[torch.tensor(list(latents), dtype=torch.long, device=sae.W_dec.device)]
        w = torch.nn.functional.normalize(w, dim=1)
        out: list[list[tuple[int, float]]] = []
        take = min(k, len(latents) - 1)
        for start in range(0, w.shape[0], chunk):
            sims = w[start : start + chunk] @ w.T
            rows = torch.arange(sims.shape[0], device=sims.device)
            sims[rows, rows + start] = float("-inf")  # never a latent's own neighbour
            if take <= 0:
                out.extend([] for _ in range(sims.shape[0]))
                continue
            # Stable sort on the descending values keeps ties in position order.
            values, cols = sims.cpu().double().sort(dim=1, descending=True, stable=True)
            out.extend(
                [(int(j), float(v)) for j, v in zip(c[:take].tolist(), v_[:take].tolist(), strict=True)]
                for c, v_ in zip(cols, values, strict=True)
            )
    return out


def sae_summary(sae: SparseAutoencoder) -> dict[str, Any]:
    """What a campaign shows of its SAE or transcoder (and the CLI prints when it starts one)."""
    summary: dict[str, Any] = {
        "kind": sae.kind,
        "d_in": sae.d_in,
        "d_sae": sae.d_sae,
        "k": sae.k,
        "layer": sae.hook.layer,
        "site": sae.hook.site,
        "model_name": sae.meta.get("model_name"),
    }
    if sae.hook_out is not None:
        summary.update(d_out=sae.d_out, layer_out=sae.hook_out.layer, site_out=sae.hook_out.site)
    return summary
