"""From predictions to a score: the preferred correlation, per-record detail, detection.

The score is ONE Pearson correlation over every token of every scored record,
concatenated (true activations vs predictions), on top-activating records plus
random ones, 1:1 — a simulator that predicts "high everywhere" gains nothing on
the random half. Beside it we keep what a player needs to see why: per-record
correlations, the tokens where the prediction missed most, and Delphi-style
detection (could the prediction tell a top window from a random one?).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.records import ActivationRecord, max_over
from engine.scoring.metrics import balanced_accuracy, pearson, roc_auc
from engine.scoring.simulator import Predictions, Simulator

# A window counts as "detected" when its highest prediction reaches the middle of the scale.
DETECTION_THRESHOLD = 5.0
WORST_MISSES = 5


@dataclass
class ScoreResult:
    score: float
    simulator: str
    version: str
    per_record: list[float]
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "simulator": self.simulator,
            "version": self.version,
            "per_record": self.per_record,
            "detail": self.detail,
        }


def select_records(
    top: Sequence[ActivationRecord], random: Sequence[ActivationRecord], limit: int | None = None
) -> list[ActivationRecord]:
    """Top and random records 1:1 (the shorter list sets the count), tagged with their kind."""
    n = min(len(top), len(random))
    if limit is not None:
        n = min(n, limit)
    if n == 0:
        # Without random records there is nothing to balance against: score the top ones alone.
        chosen_top, chosen_random = list(top[:limit] if limit else top), []
    else:
        chosen_top, chosen_random = list(top[:n]), list(random[:n])
    out = [ActivationRecord(r.tokens, r.activations, kind="top", meta=r.meta) for r in chosen_top]
    out += [ActivationRecord(r.tokens, r.activations, kind="random", meta=r.meta) for r in chosen_random]
    return out


def record_correlation(record: ActivationRecord, predicted: Sequence[float]) -> float:
    # Undefined (constant truth or prediction) shows as 0: "this record tells nothing".
    return round(pearson(record.activations, predicted) or 0.0, 4)


def worst_misses(
    records: Sequence[ActivationRecord], predictions: Predictions, k: int = WORST_MISSES
) -> list[dict[str, Any]]:
    """The k tokens whose prediction was furthest from the truth, both on 0..10."""
    scale = max_over(records)
    misses = []
    for ri, (record, predicted) in enumerate(zip(records, predictions, strict=True)):
        for ti, (token, actual, guess) in enumerate(
            zip(record.tokens, record.activations, predicted, strict=True)
        ):
            actual10 = 10 * max(0.0, actual) / scale if scale > 0 else 0.0
            misses.append((abs(actual10 - guess), ri, ti, token, actual10, guess))
    misses.sort(key=lambda m: (-m[0], m[1], m[2]))
    return [
        {"record": ri, "token_index": ti, "token": token, "actual": round(a, 2), "predicted": round(p, 2)}
        for _, ri, ti, token, a, p in misses[:k]
    ]


def detection(records: Sequence[ActivationRecord], predictions: Predictions) -> dict[str, float | None]:
    """How well the highest prediction per window separates top windows from random ones."""
    top = [max(p, default=0.0) for r, p in zip(records, predictions, strict=True) if r.kind == "top"]
    rnd = [max(p, default=0.0) for r, p in zip(records, predictions, strict=True) if r.kind == "random"]
    auc = roc_auc(top, rnd)
    bacc = balanced_accuracy(top, rnd, DETECTION_THRESHOLD)
    return {
        "roc_auc": None if auc is None else round(auc, 4),
        "balanced_accuracy": None if bacc is None else round(bacc, 4),
    }


def score_predictions(
    records: Sequence[ActivationRecord], predictions: Predictions, simulator: str = "", version: str = ""
) -> ScoreResult:
    if len(records) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(records)} records")
    truth: list[float] = []
    guess: list[float] = []
    for record, predicted in zip(records, predictions, strict=True):
        if len(predicted) != len(record.tokens):
            raise ValueError(f"{len(predicted)} predictions for a record of {len(record.tokens)} tokens")
        truth.extend(record.activations)
        guess.extend(predicted)
    overall = pearson(truth, guess)
    return ScoreResult(
        score=round(overall or 0.0, 4),
        simulator=simulator,
        version=version,
        per_record=[record_correlation(r, p) for r, p in zip(records, predictions, strict=True)],
        detail={
            "detection": detection(records, predictions),
            "worst_misses": worst_misses(records, predictions),
            # Every token's prediction (0..10, one decimal): the reveal draws simulated against
            # true activations per snippet so a player sees why the score is what it is.
            "predictions": [[round(float(v), 1) for v in predicted] for predicted in predictions],
            "kinds": [r.kind for r in records],
            "n_tokens": len(truth),
            # A constant prediction or truth has no correlation; the score then reads 0.
            "defined": overall is not None,
        },
    )


def score_explanations(
    simulator: Simulator, explanations: Sequence[str], records: Sequence[ActivationRecord]
) -> list[ScoreResult]:
    """Score several explanations on the same records; the simulator sees them as one batch."""
    if not records:
        raise ValueError("no records to score against")
    batch = simulator.predict_batch(list(explanations), records)
    return [score_predictions(records, preds, simulator.name, simulator.version) for preds in batch]


def score_explanation(
    simulator: Simulator, explanation: str, records: Sequence[ActivationRecord]
) -> ScoreResult:
    return score_explanations(simulator, [explanation], records)[0]
