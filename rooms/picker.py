"""Which neuron a room plays next: one no member present has solved, not played lately."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence


def choose_neuron(
    candidates: Sequence[int], solved: Collection[int], recent: Collection[int], rng: random.Random
) -> int | None:
    """A random candidate, preferring (in order): unsolved and not recent, unsolved, not recent.

    ``solved`` holds the neurons any present member already explained; a room of veterans
    still gets a puzzle when every neuron is solved, rather than none at all.
    """
    solved_set, recent_set = set(solved), set(recent)
    tiers = (
        [n for n in candidates if n not in solved_set and n not in recent_set],
        [n for n in candidates if n not in solved_set],
        [n for n in candidates if n not in recent_set],
        list(candidates),
    )
    for tier in tiers:
        if tier:
            return rng.choice(tier)
    return None
