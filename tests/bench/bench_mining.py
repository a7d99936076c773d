"""Mining throughput (tokens/s) against a bare batched forward pass over the SAME windows.

    .venv/bin/pytest -q -s tests/bench/bench_mining.py -o addopts=""

Baselines, measured in the same run, interleaved with mining (best of 3 each, so a busy
machine hurts both alike):
- "bare to layer": the same batches through the model up to the mined layer, nothing kept
  (mining stops the forward there too: this is the floor mining is held to, goal >= 0.9);
- "bare full": the whole model's forward, for scale.
Model and device: minilm-l6 layer 3 (the default campaign), on CUDA where there is one.
On the CPU it runs once with one torch thread (stable when other processes share the
cores: with two threads, OpenMP barriers stall under contention) and once with torch's
default. The goal is asserted for the default campaign's 256 neurons; 1536 (the whole
layer) is printed with its ratio for the record.
"""

from __future__ import annotations

import time

import pytest
import torch

from engine.corpus import make_windows
from engine.mining import Miner
from engine.models import NeuronModel, load_model

LAYER = 3
WINDOWS = 256


def _bare(model: NeuronModel, windows: torch.Tensor, batch: int, *, to_layer: bool) -> float:
    def sync() -> None:
        if model.device.type == "cuda":
            torch.cuda.synchronize()

    sync()
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(windows), batch):
            chunk = windows[i : i + batch]
            if to_layer:
                model.window_activations(chunk, LAYER, [0], to_cpu=False)  # one neuron: no bookkeeping
            else:
                ids = torch.cat(
                    [
                        torch.tensor(model.prefix_ids).expand(len(chunk), -1),
                        chunk.long(),
                        torch.tensor(model.suffix_ids).expand(len(chunk), -1),
                    ],
                    dim=1,
                ).to(model.device)
                model.model(input_ids=ids, attention_mask=torch.ones_like(ids))
    sync()
    return windows.numel() / (time.perf_counter() - started)


def _mine(model: NeuronModel, windows: torch.Tensor, batch: int, neurons: range) -> float:
    started = time.perf_counter()
    Miner(model, windows, LAYER, neurons, batch_size=batch).run()
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return windows.numel() / (time.perf_counter() - started)


@pytest.mark.parametrize(("n_neurons", "threads"), [(256, 1), (1536, 1), (256, 0)])
def test_mining_throughput_vs_bare_forward(n_neurons: int, threads: int) -> None:
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads or default_threads)
    try:
        _measure(n_neurons)
    finally:
        torch.set_num_threads(default_threads)


def _measure(n_neurons: int) -> None:
    model = load_model("minilm-l6")
    batch = 128 if model.device.type == "cuda" else 32
    windows = make_windows(model, None, max_tokens=WINDOWS * 64 * (8 if model.device.type == "cuda" else 1))
    neurons = range(n_neurons)
    _mine(model, windows[: batch * 2], batch, neurons)  # warm-up (allocator, kernels)
    bare_layer, bare_full, mined = [], [], []
    for _ in range(3):
        bare_layer.append(_bare(model, windows, batch, to_layer=True))
        mined.append(_mine(model, windows, batch, neurons))
        bare_full.append(_bare(model, windows, batch, to_layer=False))
    best_layer, best_full, best_mined = max(bare_layer), max(bare_full), max(mined)
    ratio = best_mined / best_layer
    print(
        f"\n[mining] {model.name} layer {LAYER}, {n_neurons} neurons, {windows.numel():,} tokens, "
        f"device {model.device}, threads {torch.get_num_threads()}, batch {batch}x64\n"
        f"  bare forward to layer {LAYER}: {best_layer:,.0f} tok/s\n"
        f"  mining:                  {best_mined:,.0f} tok/s  ratio {ratio:.3f} (goal >= 0.9)\n"
        f"  bare full forward:       {best_full:,.0f} tok/s  (mining / full = {best_mined / best_full:.2f})"
    )
    if n_neurons == 256:
        assert ratio >= 0.9
