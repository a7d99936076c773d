"""An SAE encoder's cost per token against the model's forward pass to the SAE's layer.

    .venv/bin/pytest -q -s tests/bench/bench_sae.py -o addopts=""

MiniLM-L6 layer 3 (the default campaign's layer), its 1,536 neurons read by a TopK SAE of
6,144 latents, k=32 (the shape ``neuronquest sae train`` makes; the cost does not depend on
the weights' values, so random weights time the same). The same 16,384 corpus tokens
(256 windows of 64) go through both, in batches of 64 windows, interleaved, best of 3 each:

- "forward to layer": ``window_activations`` (the model stops at layer 3, as mining does);
- "encoder": ``SparseAutoencoder.encode`` of those activations, float32, as mining latents
  runs it.

Printed: microseconds per token for each and the ratio encoder / forward, with one torch
thread and with torch's default. It fails when an encoding is wrong (not exactly k latents
per token, or not finite), since a fast wrong encoder is no result.
"""

from __future__ import annotations

import time

import pytest
import torch

from engine.corpus import make_windows
from engine.models import load_model
from engine.sae import SparseAutoencoder
from tests.support.small_sae import random_sae

LAYER, EXPANSION, K = 3, 4, 32
WINDOWS, BATCH = 256, 64


def _random_sae(d_in: int) -> SparseAutoencoder:
    return random_sae(d_in, LAYER, EXPANSION, K)


@pytest.mark.parametrize("threads", [1, 0])
def test_encoder_cost_vs_forward_to_layer(threads: int) -> None:
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads or default_threads)
    try:
        model = load_model("minilm-l6", device="cpu")
        windows = make_windows(model, None, window=64, max_tokens=WINDOWS * 64)[:WINDOWS]
        sae = _random_sae(model.n_neurons)
        acts = [model.window_activations(windows[i : i + BATCH], LAYER) for i in range(0, WINDOWS, BATCH)]
        forward_s, encode_s = [], []
        with torch.inference_mode():
            for _ in range(3):
                started = time.perf_counter()
                for i in range(0, WINDOWS, BATCH):
                    model.window_activations(windows[i : i + BATCH], LAYER)
                forward_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                latents = [sae.encode(a) for a in acts]
                encode_s.append(time.perf_counter() - started)
        for z in latents:
            assert torch.isfinite(z).all()
            assert ((z > 0).sum(-1) == K).all(), "a token without exactly k active latents"
        tokens = WINDOWS * 64
        fwd_us, enc_us = 1e6 * min(forward_s) / tokens, 1e6 * min(encode_s) / tokens
        print(
            f"\nthreads={torch.get_num_threads()}: forward to layer {LAYER} {fwd_us:.1f} us/token, "
            f"encoder ({model.n_neurons}->{sae.d_sae}, k={K}) {enc_us:.1f} us/token, "
            f"ratio encoder/forward {enc_us / fwd_us:.2f}"
        )
    finally:
        torch.set_num_threads(default_threads)
