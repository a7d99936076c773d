"""SAELens' on-disk format: a directory with ``cfg.json`` and ``sae_weights.safetensors``.

Weights: ``W_enc [d_in, d_sae]``, ``b_enc [d_sae]``, ``W_dec [d_sae, d_in]``, ``b_dec [d_in]``.
The config comes in two shapes, both read here:

- SAELens 6+: ``architecture`` ("topk" with ``k``, "standard"), ``d_in``, ``d_sae``,
  ``apply_b_dec_to_input``, ``normalize_activations``, ``reshape_activations`` and a
  ``metadata`` object with ``hook_name``, ``model_name``, ``sae_lens_version``, ...;
- before 6: the same flat, with ``hook_name`` (or ``hook_point``), ``hook_layer``,
  ``activation_fn`` (or ``activation_fn_str``) and ``activation_fn_kwargs: {"k": ...}``
  for TopK, and ``normalize_activations`` possibly a bool.

``save_sae`` writes the 6+ shape plus the flat legacy keys, so old and new readers both find
what they look for; our own report rides in ``metadata.neuronquest`` (SAELens keeps unknown
metadata).

Transcoders (SAELens' ``transcoder`` and ``skip_transcoder``) are read too: the config adds
``d_out`` and ``hook_name_out`` (in ``metadata`` from 6.x on; flat with ``hook_layer_out``
before), ``W_dec [d_sae, d_out]`` and ``b_dec [d_out]`` are the output site's, and a skip
transcoder has ``W_skip [d_out, d_in]``. ``hook_name`` is the site the latents are encoded
from. ``apply_b_dec_to_input`` must be false (SAELens refuses it too).

What we refuse, with the reason: other architectures (gated, jumprelu, batchtopk, jumprelu
transcoders), per-head hooks (``hook_z``, ``hook_head_index``), a fine-tuning scaling factor,
and ``expected_average_only_in`` without its constant (``activation_scaler.json`` or
``norm_scaling_factor`` in the config), which we fold into the weights when it is there.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch

from engine.sae.hooks import HookNameError, HookSite, hook_site
from engine.sae.model import SaeError, SparseAutoencoder

CFG_FILENAME = "cfg.json"
WEIGHTS_FILENAME = "sae_weights.safetensors"
SCALER_FILENAME = "activation_scaler.json"  # SAELens' dataset-wide input scale
WEIGHT_NAMES = ("W_enc", "b_enc", "W_dec", "b_dec")
# SAELens' transcoder architectures -> whether it has a skip connection (W_skip).
TRANSCODERS = {"transcoder": False, "skip_transcoder": True}
SAELENS_VERSION = "6.0.0"  # the config shape we write
# Pre-6 key names -> their 6+ names.
_RENAMED = {
    "hook_point": "hook_name",
    "hook_point_layer": "hook_layer",
    "hook_point_head_index": "hook_head_index",
    "activation_fn_str": "activation_fn",
}


def save_sae(sae: SparseAutoencoder, directory: str | Path) -> Path:
    """Write ``sae`` in SAELens' format into ``directory`` (created); returns the directory."""
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {name: getattr(sae, name).detach().float().cpu().contiguous() for name in WEIGHT_NAMES}
    if sae.W_skip is not None:
        tensors["W_skip"] = sae.W_skip.detach().float().cpu().contiguous()
    tmp = out / f".{WEIGHTS_FILENAME}.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, out / WEIGHTS_FILENAME)
    tmp_cfg = out / f".{CFG_FILENAME}.tmp"
    tmp_cfg.write_text(json.dumps(sae_config(sae), indent=2, default=_jsonable) + "\n")
    os.replace(tmp_cfg, out / CFG_FILENAME)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} in an SAE's meta is not JSON")


def sae_config(sae: SparseAutoencoder) -> dict[str, Any]:
    model_name = sae.meta.get("model_name")
    hook_name = sae.hook.hook_name
    cfg: dict[str, Any] = {
        "architecture": sae.architecture,
        "d_in": sae.d_in,
        "d_sae": sae.d_sae,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": sae.apply_b_dec_to_input,
        "normalize_activations": sae.normalize_activations,
        "reshape_activations": "none",
        "metadata": {
            "sae_lens_version": SAELENS_VERSION,
            "sae_lens_training_version": None,
            "model_name": model_name,
            "hook_name": hook_name,
            "hook_head_index": None,
            "prepend_bos": True,
            "context_size": sae.meta.get("context_size"),
            "neuronquest": sae.meta,
        },
        # The pre-6 flat keys, for readers that predate the metadata object.
        "model_name": model_name,
        "hook_name": hook_name,
        "hook_layer": sae.hook.layer,
        "activation_fn": "topk" if sae.k is not None else "relu",
        "activation_fn_kwargs": {"k": sae.k} if sae.k is not None else {},
    }
    if sae.k is not None:
        cfg["k"] = sae.k
        cfg["rescale_acts_by_decoder_norm"] = sae.rescale_acts_by_decoder_norm
    if sae.hook_out is not None:
        # SAELens 6 keeps the output hook in metadata; older versions had it flat.
        cfg["d_out"] = sae.d_out
        cfg["metadata"]["hook_name_out"] = sae.hook_out.hook_name
        cfg["metadata"]["hook_head_index_out"] = None
        cfg["hook_name_out"] = sae.hook_out.hook_name
        cfg["hook_layer_out"] = sae.hook_out.layer
    return cfg


def load_sae(directory: str | Path, *, family: str | None = None) -> SparseAutoencoder:
    """The SAE saved in ``directory`` (float32, on the CPU). ``family`` (gpt2/llama/bert), when
    known, lets a Hugging Face module hook name be read as that family's. SaeError says what
    is missing or unsupported."""
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise SaeError(
            f"{path} is not a directory (an SAE is a directory with {CFG_FILENAME} and {WEIGHTS_FILENAME})"
        )
    cfg = _read_cfg(path)
    architecture = cfg.get("architecture")
    transcoder = architecture in TRANSCODERS
    k = None if transcoder else _topk_k(cfg, path)
    hook = _hook(cfg, path, family)
    d_in, d_sae = _positive_int(cfg, "d_in", path), _positive_int(cfg, "d_sae", path)
    out: dict[str, Any] = _transcoder_out(cfg, path, family) if transcoder else {}
    scale = _input_scale(cfg, path)
    weights = _read_weights(path, d_in, d_sae, cfg, out.get("d_out", d_in), bool(out.get("skip")))
    own = cfg["metadata"].get("neuronquest")
    meta: dict[str, Any] = dict(own) if isinstance(own, dict) else {}
    meta.setdefault("model_name", cfg.get("model_name"))
    meta["hook_name"] = cfg.get("hook_name")
    meta["source_dir"] = str(path.resolve())
    try:
        sae = SparseAutoencoder(
            d_in,
            d_sae,
            k,
            hook,
            apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)),
            normalize_activations="none" if scale is not None else cfg["normalize_activations"],
            rescale_acts_by_decoder_norm=bool(cfg.get("rescale_acts_by_decoder_norm", False)),
            meta=meta,
            **out,
        )
    except SaeError as exc:
        raise SaeError(f"{path / CFG_FILENAME}: {exc}") from None
    with torch.no_grad():
        for name in weights:
            getattr(sae, name).copy_(weights[name])
        if scale is not None:
            # x·s is what the SAE was trained on: (x·s - b)W = (x - b/s)(sW); out/s likewise.
            sae.W_enc.mul_(scale)
            sae.W_dec.div_(scale)
            sae.b_dec.div_(scale)
            sae.meta["folded_input_scale"] = scale
    return sae.eval().requires_grad_(False)


def _read_cfg(path: Path) -> dict[str, Any]:
    cfg_path = path / CFG_FILENAME
    if not cfg_path.is_file():
        raise SaeError(f"{path} has no {CFG_FILENAME}: not an SAE saved in SAELens' format")
    try:
        raw = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SaeError(f"{cfg_path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise SaeError(f"{cfg_path}: expected a JSON object")
    metadata = raw.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise SaeError(f"{cfg_path}: metadata must be an object")
    cfg = {_RENAMED.get(key, key): value for key, value in raw.items()}
    # The 6+ metadata wins over flat keys of the same name; both shapes read alike after this.
    for key, value in (metadata or {}).items():
        if key != "neuronquest":
            cfg[_RENAMED.get(key, key)] = value
    cfg["metadata"] = metadata or {}
    normalize = cfg.get("normalize_activations")
    if isinstance(normalize, bool) or normalize is None:  # pre-6: a bool, True meaning the constant
        cfg["normalize_activations"] = "expected_average_only_in" if normalize else "none"
    return cfg


def _topk_k(cfg: dict[str, Any], path: Path) -> int | None:
    architecture = cfg.get("architecture", "standard")
    activation = cfg.get("activation_fn") or "relu"
    kwargs = cfg.get("activation_fn_kwargs") or {}
    where = path / CFG_FILENAME
    if architecture == "topk" or (architecture == "standard" and activation == "topk"):
        k = cfg.get("k", kwargs.get("k") if isinstance(kwargs, dict) else None)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SaeError(f"{where}: a TopK SAE needs a positive integer k (k or activation_fn_kwargs.k)")
        return k
    if architecture in ("standard", "relu") and activation == "relu":
        return None
    what = f"architecture {architecture!r}"
    if activation != "relu":
        what += f" with activation {activation!r}"
    raise SaeError(
        f"{where}: {what} is not supported "
        "(supported: topk, standard/relu with a ReLU, transcoder, skip_transcoder)"
    )


def _transcoder_out(cfg: dict[str, Any], path: Path, family: str | None) -> dict[str, Any]:
    """A transcoder's output: SparseAutoencoder's hook_out, d_out and skip arguments."""
    where = path / CFG_FILENAME
    if cfg.get("apply_b_dec_to_input", False):
        raise SaeError(
            f"{where}: apply_b_dec_to_input must be false for a transcoder (b_dec is its output's)"
        )
    if cfg["normalize_activations"] != "none":
        # SAELens normalises a transcoder's input but not its output: a folded constant would
        # rescale the output too, so only un-normalised transcoders read the same here.
        raise SaeError(
            f"{where}: normalize_activations {cfg['normalize_activations']!r} is not supported "
            "for a transcoder (only none)"
        )
    if cfg.get("hook_head_index_out") is not None:
        raise SaeError(f"{where}: per-head (attention) transcoder outputs are not supported")
    hook_out = _hook(cfg, path, family, key="hook_name_out", layer_key="hook_layer_out")
    return {
        "hook_out": hook_out,
        "d_out": _positive_int(cfg, "d_out", path),
        "skip": TRANSCODERS[cfg["architecture"]],
    }


def _hook(
    cfg: dict[str, Any],
    path: Path,
    family: str | None,
    *,
    key: str = "hook_name",
    layer_key: str = "hook_layer",
) -> HookSite:
    where = path / CFG_FILENAME
    name = cfg.get(key)
    if not isinstance(name, str) or not name:
        what = "the site a transcoder writes" if key == "hook_name_out" else "which activations the SAE reads"
        raise SaeError(f"{where}: no {key} ({what})")
    if cfg.get("hook_head_index") is not None or cfg.get("reshape_activations", "none") != "none":
        raise SaeError(f"{where}: per-head (attention) SAEs are not supported, only MLP and residual sites")
    try:
        site = hook_site(name, family)
    except HookNameError as exc:
        raise SaeError(f"{where}: {exc}") from None
    layer = cfg.get(layer_key)
    if layer is not None and layer != site.layer:
        raise SaeError(f"{where}: {layer_key} {layer} disagrees with {key} {name!r} (layer {site.layer})")
    return site


def _positive_int(cfg: dict[str, Any], key: str, path: Path) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SaeError(f"{path / CFG_FILENAME}: {key} must be a positive integer, got {value!r}")
    return value


def _input_scale(cfg: dict[str, Any], path: Path) -> float | None:
    """The constant of ``expected_average_only_in``, to fold into the weights; None otherwise."""
    if cfg["normalize_activations"] != "expected_average_only_in":
        return None
    scale: Any = cfg.get("norm_scaling_factor")
    scaler = path / SCALER_FILENAME
    if scale is None and scaler.is_file():
        try:
            scale = json.loads(scaler.read_text()).get("scaling_factor")
        except (json.JSONDecodeError, AttributeError):
            raise SaeError(f"{scaler}: expected a JSON object with scaling_factor") from None
    usable = isinstance(scale, int | float) and not isinstance(scale, bool)
    if not usable or not math.isfinite(scale) or scale <= 0:
        raise SaeError(
            f"{path / CFG_FILENAME}: normalize_activations is expected_average_only_in but the "
            f"scaling factor is not given (put it in {SCALER_FILENAME} as scaling_factor)"
        )
    return float(scale)


def _read_weights(
    path: Path, d_in: int, d_sae: int, cfg: dict[str, Any], d_out: int, skip: bool
) -> dict[str, torch.Tensor]:
    """The tensors by name; ``d_out`` is the decoder's width (d_in but for a transcoder) and
    ``skip`` whether a W_skip [d_out, d_in] belongs (a skip transcoder's)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights_path = path / WEIGHTS_FILENAME
    if not weights_path.is_file():
        raise SaeError(f"{path} has no {WEIGHTS_FILENAME}")
    try:
        tensors = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise SaeError(f"{weights_path}: not a readable safetensors file ({exc})") from None
    scaling = tensors.pop("scaling_factor", None)
    if scaling is not None and not bool(torch.all(scaling == 1)):
        raise SaeError(f"{weights_path}: a fine-tuning scaling_factor is not supported")
    names = (*WEIGHT_NAMES, "W_skip") if skip else WEIGHT_NAMES
    missing = [name for name in names if name not in tensors]
    if missing:
        raise SaeError(f"{weights_path}: missing tensors {', '.join(missing)}")
    extra = sorted(set(tensors) - set(names))
    if extra:
        kind = cfg.get("architecture")
        raise SaeError(f"{weights_path}: unexpected tensors {', '.join(extra)} ({kind} SAE)")
    shapes = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_out), "b_dec": (d_out,)}
    if skip:
        shapes["W_skip"] = (d_out, d_in)
    dims = f"d_in={d_in}, d_sae={d_sae}" + (f", d_out={d_out}" if d_out != d_in or skip else "")
    for name, shape in shapes.items():
        if tuple(tensors[name].shape) != shape:
            raise SaeError(
                f"{weights_path}: {name} has shape {list(tensors[name].shape)}, "
                f"expected {list(shape)} ({dims})"
            )
    return {name: tensors[name].float() for name in names}
