"""Causal language models for the LLM simulator: (hf_model, tokenizer) from a name or directory."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from engine.models.loading import dtype_for, pick_device
from engine.models.registry import ModelError, resolve

_cache: dict[tuple[str, str, str], tuple[Any, Any]] = {}
_lock = threading.Lock()


def load_causal_lm(
    name_or_path: str, *, device: str = "auto", data_dir: Path | None = None
) -> tuple[Any, Any]:
    """(model with its LM head, tokenizer) for "smollm2-135m" (pulled on first use), gpt2-family
    names or a local causal LM directory; cached per process like ``load_model``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    key = (name_or_path, device, str(data_dir or ""))
    with _lock:
        if key in _cache:
            return _cache[key]
        resolved = resolve(name_or_path, data_dir)
        if resolved.family == "bert":
            raise ModelError(f"{name_or_path} is an encoder (BERT-style), not a causal language model")
        dev = pick_device(device)
        model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=dtype_for(dev)).to(dev).eval()
        tokenizer = AutoTokenizer.from_pretrained(resolved.path)
        _cache[key] = (model, tokenizer)
        return model, tokenizer
