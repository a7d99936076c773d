"""Held-out evaluation: does a simulator's score put a neuron's true explanation first?

For every neuron of a split: its true explanation (one of its phrasings, drawn with a fixed
seed) against wrong ones — explanations of neurons of the same family and of others, and
for a sense neuron the other senses of its word — all scored on the neuron's records with
the project's score (Pearson over all tokens). Per family: the pooled AUROC of "true
above wrong", and for senses how often the true explanation beats each other sense's.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from engine.records import ActivationRecord
from engine.scoring.score import score_explanations
from engine.scoring.simulator import Simulator
from engine.scoring.trained.dataset import Dataset, NeuronData

SAME_FAMILY = 6
OTHER_FAMILIES = 6


@dataclass
class Case:
    data: NeuronData
    true: str
    wrong: list[str]
    confusers: list[str]

    @property
    def canonical(self) -> str:
        """The neuron's explanation in the same phrasing as its confusers (the other senses')."""
        return self.data.neuron.explanations[0]

    def records(self, dataset: Dataset) -> list[ActivationRecord]:
        return [
            ActivationRecord(dataset.sentences[i].tokens, acts) for i, acts in self.data.top + self.data.rest
        ]


def cases(dataset: Dataset, split: str, seed: int = 0, per_family: int | None = None) -> list[Case]:
    rng = random.Random(f"{seed}:{split}")
    neurons = dataset.split(split)
    by_family: dict[str, list[NeuronData]] = defaultdict(list)
    for n in neurons:
        by_family[n.neuron.family].append(n)
    out = []
    for family in sorted(by_family):
        members = by_family[family]
        chosen = members if per_family is None else rng.sample(members, min(per_family, len(members)))
        for n in chosen:
            same = [m.neuron.explanations[0] for m in members if m is not n]
            others = [m.neuron.explanations[0] for m in neurons if m.neuron.family != family]
            wrong = rng.sample(same, min(SAME_FAMILY, len(same))) + rng.sample(
                others, min(OTHER_FAMILIES, len(others))
            )
            true = rng.choice(n.neuron.explanations)
            wrong = [w for w in dict.fromkeys(wrong) if w != true and w not in n.neuron.explanations]
            out.append(Case(n, true, wrong, [c for c in n.neuron.confusers if c != true]))
    return out


def evaluate(simulator: Simulator, dataset: Dataset, items: list[Case]) -> dict[str, Any]:
    """Pooled AUROC per family (true vs wrong and confusers), and two sense figures.

    ``vs_other_sense``: the drawn phrasing of the true sense against each other sense's
    explanation (always phrased 'the word "w" meaning ...'); ``vs_other_sense_same_phrasing``:
    the true sense in that same phrasing against them, so only the sense differs."""
    wins: dict[str, list[float]] = defaultdict(list)
    sense_wins: list[float] = []
    same_phrasing: list[float] = []
    pairs = 0
    started = time.perf_counter()
    for case in items:
        records = case.records(dataset)
        explanations = [case.true, *case.wrong, *case.confusers]
        if case.confusers:
            explanations.append(case.canonical)
        scores = [r.score for r in score_explanations(simulator, explanations, records)]
        pairs += len(explanations) * len(records)
        true = scores[0]
        n_wrong, n_conf = len(case.wrong), len(case.confusers)
        for other in scores[1 : 1 + n_wrong + n_conf]:
            wins[case.data.neuron.family].append(_win(true, other))
        for other in scores[1 + n_wrong : 1 + n_wrong + n_conf]:
            sense_wins.append(_win(true, other))
            same_phrasing.append(_win(scores[-1], other))
    seconds = time.perf_counter() - started
    families = {f: {"auroc": round(sum(w) / len(w), 4), "pairs": len(w)} for f, w in sorted(wins.items())}
    return {
        "simulator": simulator.name,
        "version": simulator.version,
        "families": families,
        "neurons": len(items),
        "vs_other_sense": _mean(sense_wins),
        "vs_other_sense_same_phrasing": _mean(same_phrasing),
        "sense_pairs": len(sense_wins),
        "mean_auroc": round(sum(f["auroc"] for f in families.values()) / max(1, len(families)), 4),
        "ms_per_pair": round(1000 * seconds / max(1, pairs), 3),
        "seconds": round(seconds, 1),
    }


def _win(a: float, b: float) -> float:
    return 1.0 if a > b else 0.5 if a == b else 0.0


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None
