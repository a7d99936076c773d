"""The scoring fast path (grid.py) gives what ``Head.score`` gives (the path scoring took
before, and training's), for the shipped head on real MiniLM states: the same logits within float noise, and
the simulator's predictions are those logits on 0..10, rounded as before."""

from __future__ import annotations

from dataclasses import replace

import torch

from engine.records import ActivationRecord
from engine.scoring.planted import tokenize
from engine.scoring.trained import grid
from engine.scoring.trained.inputs import Explanations, Records
from engine.scoring.trained.simulator import TrainedSimulator

# Records and explanations that reach every evidence channel: the same word in two senses and
# with a plural, quoted words, an ordinal, an enclosure, a one-token record.
TEXTS = [
    "We sat on the bank of the river.",
    "The bank raised its rates (again) in 1998.",
    'Banks lend money, and "money" is what banks sell.',
    "Yes",
    "The second word of a list [like this] is here.",
]
EXPLANATIONS = [
    'the word "bank" meaning sloping land beside a river',
    "banks as a financial institution",
    "the second word",
    'the word after "is"',
    "words inside square brackets",
    "years",
    "",
]


def _pair_probabilities(
    sim: TrainedSimulator, records: list[ActivationRecord]
) -> tuple[torch.Tensor, grid.Packed]:
    """The ensemble's averaged predictions (0..1) from each head's own ``Head.score``, blended
    with embedding's prediction as the simulator blends them, packed."""
    with torch.inference_mode():
        rows = [x for x in sim._prepared(records) if x is not None]
        batch = Records.of([r[0] for r in rows])
        base = torch.nn.utils.rnn.pad_sequence([r[1] for r in rows], batch_first=True)
        query = torch.nn.utils.rnn.pad_sequence([r[2] for r in rows], batch_first=True)
        expl = Explanations.of(sim._explained(EXPLANATIONS))
        r, e = len(rows), len(EXPLANATIONS)
        ri, ei = torch.arange(r).repeat(e), torch.arange(e).repeat_interleave(r)
        packed = grid.pack(batch, (base, query))
        width = base.shape[-1] // len(sim.heads)
        probabilities = []
        for m, head in enumerate(sim.heads):
            cols = slice(m * width, (m + 1) * width)
            # head.score as the simulator called it before (test_trained_inputs pins its grid
            # branch to the pair branch training takes).
            pairs = head.score(batch, (base[..., cols], query[..., cols]), expl, ri, ei)  # (E * R, T)
            own = replace(packed, base=packed.base[:, cols], query=packed.query[:, cols])
            fast = grid.logits(head, own, expl)  # (E, N)
            want = torch.cat([pairs.view(e, r, -1)[:, i, :n] for i, n in enumerate(packed.lengths)], dim=1)
            assert want.shape == fast.shape
            assert torch.allclose(fast, want, atol=2e-4), (fast - want).abs().max()
            probabilities.append(torch.sigmoid(want))
        together = grid.ensemble(sim.heads, packed, expl)
        mix = grid.evidence(packed, expl, sim.heads[0].ordinals)[1][..., grid.EMB_MIX]  # embedding's, 0..1
    mean = torch.stack(probabilities).mean(0)
    assert torch.allclose(together, mean, atol=1e-4)
    # The simulator's share of embedding's own prediction (test_trained_inputs pins the mix to it).
    share = sim.embedding_share
    assert 0 < share < 1
    return (1 - share) * mean + share * mix, packed


def test_the_grid_path_gives_the_heads_own_logits_and_predictions() -> None:
    sim = TrainedSimulator()
    assert len(sim.heads) >= 1
    records = [ActivationRecord(tokenize(t), [0.0] * len(tokenize(t))) for t in TEXTS]
    want, packed = _pair_probabilities(sim, records)
    got = sim.predict_batch(EXPLANATIONS, records)
    values = (10 * want).tolist()
    for e, row in enumerate(values):
        for i, (start, n) in enumerate(zip(packed.offsets, packed.lengths, strict=True)):
            expected = [round(v, 3) for v in row[start : start + n]]
            assert len(got[e][i]) == n
            assert max(abs(a - b) for a, b in zip(got[e][i], expected, strict=True)) <= 0.0011


def test_rounding_all_at_once_is_rounds_own() -> None:
    """float32 values, rounded to 3 places in float64 at once, are exactly round(v, 3)."""
    values = torch.rand(20_000) * 10
    values[:4] = torch.tensor([0.0005, 2.0625, 9.9995, 10.0])  # ties and ends
    fast = torch.round(values.double() * 1000).div_(1000).tolist()
    assert fast == [round(v, 3) for v in values.tolist()]
