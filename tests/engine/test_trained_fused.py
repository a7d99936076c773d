"""The heads' pair halves in one pass (fused.py) give what the per-head path (grid.ensemble,
training's) gives, for the shipped heads on real MiniLM states: the same within float rounding."""

from __future__ import annotations

import pytest
import torch

from engine.records import ActivationRecord
from engine.scoring.planted import tokenize
from engine.scoring.trained import fused, grid
from engine.scoring.trained.head import Head
from engine.scoring.trained.inputs import Explanations
from engine.scoring.trained.simulator import TrainedSimulator
from tests.engine.test_trained_grid import EXPLANATIONS, TEXTS


@pytest.fixture(scope="module")
def sim() -> TrainedSimulator:
    return TrainedSimulator()


def _records() -> list[ActivationRecord]:
    return [ActivationRecord(tokenize(t), [0.0] * len(tokenize(t))) for t in TEXTS]


@pytest.mark.parametrize("share", [0.0, 0.25])
def test_fused_ensemble_is_the_heads_one_by_one(sim: TrainedSimulator, share: float) -> None:
    assert len(sim.heads) == 3
    with torch.inference_mode():
        _, packed = sim._batch(_records())
        assert packed is not None
        expl = Explanations.of(sim._explained(EXPLANATIONS))
        want = grid.ensemble(sim.heads, packed, expl, share)
        got = fused.ensemble(fused.stack(sim.heads), packed, expl, share)
    assert got.shape == want.shape == (len(EXPLANATIONS), sum(packed.lengths))
    assert want.std() > 0.05  # predictions that vary, not a constant both paths agree on
    assert torch.allclose(got, want, atol=1e-6, rtol=0), (got - want).abs().max()


def test_the_simulator_scores_fused_and_training_per_head(sim: TrainedSimulator) -> None:
    per_head = TrainedSimulator(heads=sim.heads, encoder=sim.encoder, fused_heads=False)
    assert per_head._stack is None and sim._stack is not None
    records = _records()
    a, b = sim.predict_batch(EXPLANATIONS, records), per_head.predict_batch(EXPLANATIONS, records)
    diffs = [
        abs(x - y)
        for pa, pb in zip(a, b, strict=True)
        for ra, rb in zip(pa, pb, strict=True)
        for x, y in zip(ra, rb, strict=True)
    ]
    assert len(diffs) == len(EXPLANATIONS) * sum(len(r.tokens) for r in records)
    assert max(diffs) <= 0.0011  # one step of the 3-place rounding at most


def test_heads_with_different_ordinal_banks_are_refused() -> None:
    a, b = Head().eval(), Head().eval()
    b.ordinals.add_(1.0)
    with pytest.raises(ValueError, match="ordinal"):
        fused.stack([a, b])
