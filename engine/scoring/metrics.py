"""Numbers that turn predictions into a verdict: correlation, ROC AUC, balanced accuracy.

Pure functions over plain lists, so they are easy to check by hand. A correlation
is undefined when either side is constant (e.g. a random record on which the
neuron never fires); those return None and the caller decides what to show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation of two equally long sequences; None when undefined."""
    if len(xs) != len(ys):
        raise ValueError(f"pearson needs equal lengths, got {len(xs)} and {len(ys)}")
    n = len(xs)
    if n < 2:
        return None
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    # Relative tolerance: float noise on a constant sequence must not look like variance.
    if sxx <= 1e-12 * max(1.0, mx * mx) * n or syy <= 1e-12 * max(1.0, my * my) * n:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not positives or not negatives:
        return None
    # Rank-based (Mann-Whitney U) so it is O(n log n) and exact with ties.
    labelled = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum = 0.0
    i = 0
    while i < len(labelled):
        j = i
        while j + 1 < len(labelled) and labelled[j + 1][0] == labelled[i][0]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        rank_sum += mean_rank * sum(1 for k in range(i, j + 1) if labelled[k][1] == 1)
        i = j + 1
    n_pos, n_neg = len(positives), len(negatives)
    u = rank_sum - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def balanced_accuracy(
    positives: Sequence[float], negatives: Sequence[float], threshold: float
) -> float | None:
    """Mean of the hit rate on positives and the correct-rejection rate on negatives."""
    if not positives or not negatives:
        return None
    tpr = sum(1 for s in positives if s >= threshold) / len(positives)
    tnr = sum(1 for s in negatives if s < threshold) / len(negatives)
    return (tpr + tnr) / 2
