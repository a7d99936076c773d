"""Does a simulator's score prefer the true explanation of a planted neuron over wrong ones?

For every planted neuron we score its true explanation and wrong ones (the other
neurons' explanations, plus for contextual neurons the explanation of the other
sense) on the neuron's own records. The ROC AUC of "true scores above wrong" is
reported per kind; for contextual neurons also against the other sense alone,
the hard case that per-word similarity cannot solve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.scoring.metrics import roc_auc
from engine.scoring.planted import NEURONS, PlantedNeuron
from engine.scoring.score import score_explanations, select_records
from engine.scoring.simulator import Simulator


def _pair_auc(true_score: float, wrong_scores: Sequence[float]) -> float | None:
    return roc_auc([true_score], list(wrong_scores))


def validate(simulator: Simulator, neurons: Sequence[PlantedNeuron] = NEURONS) -> dict[str, Any]:
    all_explanations = sorted({n.explanation for n in neurons})
    per_neuron: list[dict[str, Any]] = []
    for neuron in neurons:
        top, rnd = neuron.records()
        records = select_records(top, rnd)
        wrong = [e for e in all_explanations if e != neuron.explanation]
        if neuron.confuser and neuron.confuser not in wrong:
            wrong.append(neuron.confuser)
        results = score_explanations(simulator, [neuron.explanation, *wrong], records)
        true_score = results[0].score
        wrong_scores = dict(zip(wrong, (r.score for r in results[1:]), strict=True))
        row: dict[str, Any] = {
            "neuron": neuron.name,
            "kind": neuron.kind,
            "true_score": true_score,
            "best_wrong": max(wrong_scores.values()),
            "auc": _pair_auc(true_score, list(wrong_scores.values())),
            "wrong_scores": [wrong_scores[e] for e in wrong],
            "detection_auc": results[0].detail["detection"]["roc_auc"],
        }
        if neuron.confuser:
            row["confuser_score"] = wrong_scores[neuron.confuser]
            row["auc_vs_confuser"] = _pair_auc(true_score, [wrong_scores[neuron.confuser]])
        per_neuron.append(row)
    return {"simulator": simulator.name, "version": simulator.version, **summarize(per_neuron)}


def summarize(per_neuron: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled AUC over all (true, wrong) pairs of the same kind, plus the hard contextual one."""

    def pooled(kind: str) -> float | None:
        wins = total = 0.0
        for row in per_neuron:
            if row["kind"] != kind:
                continue
            for w in row["wrong_scores"]:
                wins += 1.0 if row["true_score"] > w else 0.5 if row["true_score"] == w else 0.0
                total += 1
        return round(wins / total, 4) if total else None

    hard = [row["auc_vs_confuser"] for row in per_neuron if "auc_vs_confuser" in row]
    return {
        "lexical_auc": pooled("lexical"),
        "contextual_auc": pooled("contextual"),
        "contextual_vs_other_sense": round(sum(hard) / len(hard), 4) if hard else None,
        "neurons": per_neuron,
    }
