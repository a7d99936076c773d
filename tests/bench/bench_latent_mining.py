"""Mining a campaign of SAE latents against mining the same layer's neurons, same windows.

    flock /tmp/nq-heavy.lock .venv/bin/pytest -q -s tests/bench/bench_latent_mining.py -o addopts=""

MiniLM-L6 layer 3: its 1,536 neurons (NeuronModel) and the 6,144 latents of a TopK SAE on them,
k=32 (LatentModel; the shape ``neuronquest sae train`` makes, random unit-norm weights: the
forward pass and the encoder cost the same whatever the weights, the top-k bookkeeping may
differ a little from a trained SAE's). The same 8,192 corpus tokens (128 windows of 64) in the
same batches (32 windows) through engine/mining.py's Miner, top 20 + 20 random per unit, best
of 2 runs each. Printed: tokens per second for each and the ratio latents / neurons (the
baseline, measured in the same run). Fails when a unit is missing or a record is malformed.
"""

from __future__ import annotations

import time

import torch

from engine.corpus import make_windows
from engine.mining import Miner, NeuronSummary
from engine.models import load_model
from engine.sae import SparseAutoencoder
from engine.units import LatentModel, UnitModel
from tests.support.small_sae import random_sae

LAYER, EXPANSION, K = 3, 4, 32
WINDOWS, WIDTH, BATCH = 128, 64, 32


def _random_sae(d_in: int) -> SparseAutoencoder:
    return random_sae(d_in, LAYER, EXPANSION, K)


def _mine(model: UnitModel, windows: torch.Tensor, n: int) -> tuple[float, list[NeuronSummary]]:
    best, summaries = float("inf"), []
    for _ in range(2):
        started = time.perf_counter()
        summaries = Miner(model, windows, LAYER, range(n), batch_size=BATCH).run()
        best = min(best, time.perf_counter() - started)
    return best, summaries


def _check(summaries: list[NeuronSummary], n: int) -> None:
    assert [s.index for s in summaries] == list(range(n)), "a unit is missing"
    for s in summaries:
        assert len(s.random) == 20 and all(len(r.tokens) == WIDTH == len(r.activations) for r in s.top)
        assert all(torch.isfinite(torch.tensor(r.activations)).all() for r in s.top)


def test_latents_mine_at_what_cost_against_neurons() -> None:
    model = load_model("minilm-l6", device="cpu")
    windows = make_windows(model, None, window=WIDTH, max_tokens=WINDOWS * WIDTH)[:WINDOWS]
    latents = LatentModel(model, _random_sae(model.n_neurons), "bench-topk32")
    neuron_s, neurons = _mine(model, windows, model.n_neurons)
    latent_s, features = _mine(latents, windows, latents.n_neurons)
    _check(neurons, model.n_neurons)
    _check(features, latents.n_neurons)
    assert sum(1 for s in features if s.max_activation > 0) > 0.9 * latents.n_neurons, "most latents dead"
    tokens = WINDOWS * WIDTH
    print(
        f"\nthreads={torch.get_num_threads()}: neurons ({model.n_neurons}) {tokens / neuron_s:,.0f} tok/s, "
        f"latents ({latents.n_neurons}, k={K}) {tokens / latent_s:,.0f} tok/s, "
        f"ratio latents/neurons time {latent_s / neuron_s:.2f}"
    )
