"""Device choice and the per-process model cache.

A model is loaded once per process (the worker is a SimpleWorker, so it lives for
the worker's lifetime): the same arguments give the same object.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from engine.models.neuron_model import NeuronModel
from engine.models.registry import ModelError, resolve

_cache: dict[tuple[str, str, str], NeuronModel] = {}
_lock = threading.Lock()


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        picked = torch.device(device)
    except RuntimeError as exc:
        raise ModelError(f"unknown device {device!r}: use auto, cpu or cuda") from exc
    if picked.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("device cuda asked for, but no CUDA GPU is available (use auto or cpu)")
    return picked


def dtype_for(device: torch.device) -> torch.dtype:
    # Half precision where it is fast (GPU); float32 on the CPU, where half is slow.
    return torch.float16 if device.type == "cuda" else torch.float32


def load_model(name: str, *, device: str = "auto", data_dir: Path | None = None) -> NeuronModel:
    """The NeuronModel for a registry name or a local model directory, cached per process."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # Per-tensor "Loading weights" bars would drown the CLI's own progress output.
    hf_logging.disable_progress_bar()

    key = (name, device, str(data_dir or ""))
    with _lock:
        if key in _cache:
            return _cache[key]
        resolved = resolve(name, data_dir)
        dev = pick_device(device)
        # AutoModel gives the bare transformer (no LM head): the neurons are all we read.
        model = AutoModel.from_pretrained(resolved.path, dtype=dtype_for(dev)).to(dev)
        tokenizer = AutoTokenizer.from_pretrained(resolved.path)
        loaded = NeuronModel(name, resolved.family, model, tokenizer, dev)
        _cache[key] = loaded
        return loaded


def clear_cache() -> None:
    with _lock:
        _cache.clear()
