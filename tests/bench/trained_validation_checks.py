"""Session 11's checks of the trained simulator, on VALIDATION neurons only (docs/SCORING.md).

    python -m tests.bench.trained_validation_checks repeats
    python -m tests.bench.trained_validation_checks warm PER_FAMILY MODE:TEXTS:ORDER [...]
        MODE sequential (the bench before session 11) | interleaved; TEXTS shared | unique;
        ORDER embedding,trained | trained,embedding
    python -m tests.bench.trained_validation_checks cold PER_FAMILY
    python -m tests.bench.trained_validation_checks members [HEAD.pt]
    python -m tests.bench.trained_validation_checks wide [HEAD.pt]
    python -m tests.bench.trained_validation_checks senses

``repeats``: how many of a warm pass's explanation texts repeat across cases (the cases share
their wrong explanations), so would be explanation-cache hits when tagged with the pass only.
``warm``: ms per explanation x record on known records, wall and CPU time of the same calls,
best of 3 passes, in the protocols compared. ``cold``: one pass on records new to fresh
simulators, interleaved, the texts shared across cases (as ``evaluate`` scores them) and then
unique to the neuron (fresh simulators again). ``members``: each member of the shipped ensemble
alone, with a share of `embedding`, against trained-5, by session 9's rule (mean AUROC over
families + 0.25 x true sense beats the other sense); every head's prediction is computed once
per call and combined after. With a head file of more members (session 12: ``simulator train
--members 5``), its first three against all of them at the same shares. ``wide``: the same for
the shipped heads (or HEAD.pt's) on the wider validation split (``wide.py``, session 13), with
`embedding` alone and each head alone (share 0) beside them. ``senses``: on the wide split's
sense neurons, how often the frozen encoder's own evidence picks a word token's sense: its state
closer to the word's state inside its own sense's explanation than inside the other sense's, both
phrased alike ("the word "w" meaning ...").
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from config.settings import Settings
from engine.records import ActivationRecord
from engine.scoring import make_simulator, score_explanations
from engine.scoring.simulator import Predictions, Simulator
from engine.scoring.trained import grid
from engine.scoring.trained.dataset import build
from engine.scoring.trained.evaluate import cases, evaluate
from engine.scoring.trained.inputs import Explanations
from engine.scoring.trained.simulator import TrainedSimulator, load_head
from engine.scoring.trained.wide import SPLIT, widen


def repeats() -> None:
    data = build(0)
    for split, per in [("test", 30), ("val", 30), ("val", 12), ("val", 8), ("val", 4)]:
        items = cases(data, split, 0, per)
        texts = [t for c in items for t in [c.true, *c.wrong]]
        distinct = len(set(texts))
        print(
            f"{split} {per} a family: {len(items)} neurons, {len(texts)} texts, {distinct} distinct, "
            f"repeats {1 - distinct / len(texts):.0%}"
        )


def _pass(
    items: list[Any],
    records: list[list[ActivationRecord]],
    sims: list[tuple[str, Simulator]],
    rep: int,
    kind: str,
) -> dict[str, tuple[float, float]]:
    """One warm pass: {simulator: (wall ms, CPU ms) per explanation x record}, the order alternating."""
    spent = {name: [0.0, 0.0] for name, _ in sims}
    pairs = 0
    for k, case in enumerate(items):
        tag = f"({rep}.{k})" if kind == "unique" else f"({rep})"
        texts = [f"{t} {tag}" for t in [case.true, *case.wrong]]
        for name, sim in sims if k % 2 == 0 else sims[::-1]:
            score_explanations(sim, [f"warm-up {rep}"], records[k])
            wall, cpu = time.perf_counter(), time.process_time()
            score_explanations(sim, texts, records[k])
            spent[name][0] += time.perf_counter() - wall
            spent[name][1] += time.process_time() - cpu
        pairs += len(texts) * len(records[k])
    return {name: (1000 * w / pairs, 1000 * c / pairs) for name, (w, c) in spent.items()}


def warm(per_family: int, specs: list[str]) -> None:
    settings = Settings().model_copy(update={"device": "cpu"})
    data = build(0)
    items = cases(data, "val", 0, per_family)
    records = [c.records(data) for c in items]
    print(f"{len(items)} validation neurons", flush=True)
    for spec in specs:
        mode, kind, order = spec.split(":")
        sims = [(name, make_simulator(settings, name)) for name in order.split(",")]
        # sequential: one simulator's passes after the other's (the bench before session 11)
        groups = [[sim] for sim in sims] if mode == "sequential" else [sims]
        passes = [_pass(items, records, group, rep, kind) for group in groups for rep in range(3)]
        best = {name: [min(p[name][i] for p in passes if name in p) for i in (0, 1)] for name, _ in sims}
        e, t = best["embedding"], best["trained"]
        print(
            f"{mode:<11} {kind:<6} {order:<18} wall: embedding {e[0]:.3f} trained {t[0]:.3f} "
            f"({t[0] / e[0]:.2f}x)  CPU: embedding {e[1]:.3f} trained {t[1]:.3f} ({t[1] / e[1]:.2f}x)",
            flush=True,
        )


def cold(per_family: int) -> None:
    settings = Settings().model_copy(update={"device": "cpu"})
    data = build(0)
    items = cases(data, "val", 0, per_family)
    records = [c.records(data) for c in items]
    print(f"{len(items)} validation neurons", flush=True)
    for kind in ("shared", "unique"):
        sims = [(name, make_simulator(settings, name)) for name in ("embedding", "trained")]
        spent = {name: [0.0, 0.0] for name, _ in sims}
        pairs = 0
        for k, case in enumerate(items):
            texts = [f"{t} ({k})" if kind == "unique" else t for t in [case.true, *case.wrong]]
            for name, sim in sims if k % 2 == 0 else sims[::-1]:
                wall, cpu = time.perf_counter(), time.process_time()
                score_explanations(sim, texts, records[k])
                spent[name][0] += time.perf_counter() - wall
                spent[name][1] += time.process_time() - cpu
            pairs += len(texts) * len(records[k])
        (ew, ec), (tw, tc) = ([1000 * x / pairs for x in spent[n]] for n in ("embedding", "trained"))
        print(
            f"cold {kind:<6} wall: embedding {ew:.3f} trained {tw:.3f} ({tw / ew:.2f}x)  "
            f"CPU: embedding {ec:.3f} trained {tc:.3f} ({tc / ec:.2f}x)",
            flush=True,
        )


class _Parts:
    """Each head's prediction and `embedding`'s on 0..1, computed once per call."""

    def __init__(self, path: Path | None = None) -> None:
        self.heads, _, _ = load_head(path) if path else load_head()
        self.sim = TrainedSimulator(heads=self.heads, fused_heads=False)
        self.memo: dict[Any, Any] = {}

    @torch.inference_mode()
    def __call__(self, explanations: list[str], records: Sequence[ActivationRecord]) -> Any:
        key = (tuple(explanations), tuple(tuple(r.tokens) for r in records))
        if key not in self.memo:
            kept, packed = self.sim._batch(records)
            assert packed is not None
            expl = Explanations.of(self.sim._explained(explanations))
            feats, skip = grid.evidence(packed, expl, self.heads[0].ordinals)
            width = packed.base.shape[-1] // len(self.heads)
            probs = []
            for m, head in enumerate(self.heads):
                cols = slice(m * width, (m + 1) * width)
                base, query = packed.base[:, cols], packed.query[:, cols]
                probs.append(torch.sigmoid(grid._pair_logits(head, base, query, packed, expl, feats, skip)))
            self.memo[key] = (kept, packed, probs, skip[..., grid.EMB_MIX].clone())
        return self.memo[key]


class _View(Simulator):
    name = "trained-view"
    version = "view"

    def __init__(self, parts: _Parts, members: tuple[int, ...], share: float) -> None:
        self.parts, self.members, self.share = parts, members, share

    def predict_batch(
        self, explanations: Sequence[str], records: Sequence[ActivationRecord]
    ) -> list[Predictions]:
        kept, packed, probs, emb = self.parts(list(explanations), records)
        mean = sum(probs[m] for m in self.members) / len(self.members)
        values = 10 * ((1 - self.share) * mean + self.share * emb)
        rows = torch.round(values.double() * 1000).div_(1000).tolist()  # as the simulator rounds
        out: list[Predictions] = [[[] for _ in records] for _ in explanations]
        for e, row in enumerate(rows):
            for i, (start, n) in zip(kept, zip(packed.offsets, packed.lengths, strict=True), strict=True):
                out[e][i] = row[start : start + n]
        return out


def members(path: Path | None = None) -> None:
    """The shipped ensemble and each member alone at several shares; with ``path``, a head file of
    more members (``simulator train --members N --out PATH``): the first three (the shipped ones,
    same seeds) against all N at the same shares."""
    data = build(0)
    items = cases(data, "val", 0, None)
    parts = _Parts(path)
    shares = (0.0, 0.1, 0.2, 0.25, 0.3, 0.4)
    if path is None:
        configs = [((0, 1, 2), 0.25)] + [((m,), s) for m in (0, 1, 2) for s in shares]
    else:
        every = tuple(range(len(parts.heads)))
        configs = [(chosen, s) for chosen in ((0, 1, 2), every) for s in shares]
    for chosen, share in configs:
        _print_rule({"heads": chosen, "share": share}, evaluate(_View(parts, chosen, share), data, items))


def _print_rule(row: dict[str, Any], r: dict[str, Any]) -> None:
    """One JSON line: what was scored, session 9's rule, the mean, the sense figure, the families."""
    rule = r["mean_auroc"] + 0.25 * (r["vs_other_sense"] or 0.0)
    row = row | {"rule": round(rule, 4), "mean": r["mean_auroc"]}
    row |= {"vs_other_sense": r["vs_other_sense"], "pairs": r["sense_pairs"]}
    print(json.dumps(row | {"families": {f: v["auroc"] for f, v in r["families"].items()}}), flush=True)


def wide(path: Path | None = None) -> None:
    """Every head of the file together, at several shares of `embedding`, and `embedding` alone,
    on the wider validation split."""
    data = widen(build(0), 0)
    items = cases(data, SPLIT, 0, None)
    parts = _Parts(path)
    every = tuple(range(len(parts.heads)))
    settings = Settings().model_copy(update={"device": "cpu"})
    sims: list[tuple[str, Simulator]] = [("embedding", make_simulator(settings, "embedding"))]
    shares = (0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5)
    sims += [(f"heads {every} share {s}", _View(parts, every, s)) for s in shares]
    sims += [(f"head {m} alone share 0.0", _View(parts, (m,), 0.0)) for m in every]
    for label, sim in sims:
        _print_rule({"simulator": label}, evaluate(sim, data, items))


def senses() -> None:
    data = widen(build(0), 0)
    items = [c for c in cases(data, SPLIT, 0, None) if c.confusers]
    heads, _, _ = load_head()
    sim = TrainedSimulator(heads=heads, fused_heads=False)
    right = {3: 0, 4: 0}  # skip columns: the cosine at layer 3 and at layer 6
    tokens = 0
    for case in items:
        records = case.records(data)
        kept, packed = sim._batch(records)
        assert packed is not None
        texts = [case.canonical, *case.confusers]
        _, skip = grid.evidence(packed, Explanations.of(sim._explained(texts)), heads[0].ordinals)
        for r, (start, n) in zip(kept, zip(packed.offsets, packed.lengths, strict=True), strict=True):
            own = any(a > 0 for a in records[r].activations)  # the word in the true sense here
            for t in range(start, start + n):
                if not skip[0, t, 5]:  # not the explained word
                    continue
                tokens += 1
                for col in right:
                    other = float(skip[1:, t, col].max())
                    right[col] += (float(skip[0, t, col]) > other) == own
    print(json.dumps({"tokens": tokens, "layer 3": right[3] / tokens, "layer 6": right[4] / tokens}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "repeats":
        repeats()
    elif command == "warm":
        warm(int(rest[0]), rest[1:])
    elif command == "cold":
        cold(int(rest[0]))
    elif command == "senses":
        senses()
    elif command == "wide":
        wide(Path(rest[0]) if rest else None)
    else:
        members(Path(rest[0]) if rest else None)
