"""Activation records and their normalisation for display and prompts.

A record is one window of tokens with the neuron's activation on each token
(the shape OpenAI's automated-interpretability uses). Normalised values are
``min(10, floor(10 * relu(a) / M))`` with M the max activation over the
records shown together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ActivationRecord:
    tokens: list[str]
    activations: list[float]
    # Where the record came from: "top", "random" or "" (typed by a player).
    kind: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.activations):
            raise ValueError(f"record has {len(self.tokens)} tokens but {len(self.activations)} activations")

    @property
    def max_activation(self) -> float:
        return max(self.activations, default=0.0)

    @property
    def max_index(self) -> int:
        if not self.activations:
            return 0
        return max(range(len(self.activations)), key=self.activations.__getitem__)

    def to_json(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "activations": [float(a) for a in self.activations]}

    @classmethod
    def from_json(cls, data: dict[str, Any], kind: str = "") -> ActivationRecord:
        if not isinstance(data, dict) or "tokens" not in data or "activations" not in data:
            raise ValueError('a record is an object {"tokens": [...], "activations": [...]}')
        return cls(
            tokens=[str(t) for t in data["tokens"]],
            activations=[float(a) for a in data["activations"]],
            kind=str(data.get("kind", kind)),
        )


def max_over(records: Sequence[ActivationRecord]) -> float:
    return max((r.max_activation for r in records), default=0.0)


def normalize(activations: Sequence[float], max_activation: float) -> list[int]:
    """Map activations to the 0..10 integer scale relative to ``max_activation``."""
    if max_activation <= 0:
        return [0 for _ in activations]
    return [min(10, math.floor(10 * max(0.0, a) / max_activation)) for a in activations]
