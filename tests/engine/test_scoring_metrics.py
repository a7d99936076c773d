"""The score's arithmetic: correlation, AUC, balanced accuracy, per-record detail, 1:1 records."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.records import ActivationRecord
from engine.scoring.metrics import balanced_accuracy, pearson, roc_auc
from engine.scoring.score import score_predictions, select_records


def test_pearson_known_values_and_undefined_cases():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([0, 0, 0], [1, 2, 3]) is None  # constant truth: no correlation
    assert pearson([1.0], [2.0]) is None
    with pytest.raises(ValueError, match="equal lengths"):
        pearson([1, 2], [1])


@given(st.lists(st.floats(-100, 100), min_size=2, max_size=30), st.floats(0.1, 10), st.floats(-5, 5))
def test_pearson_is_invariant_to_affine_maps(xs, scale, shift):
    ys = [x * scale + shift for x in xs]
    r = pearson(xs, ys)
    if r is not None:
        assert r == pytest.approx(1.0, abs=1e-6)


def test_roc_auc_counts_ties_half_and_matches_pairs():
    assert roc_auc([3, 4], [1, 2]) == 1.0
    assert roc_auc([1], [1]) == 0.5
    assert roc_auc([2, 0], [1]) == 0.5
    assert roc_auc([], [1]) is None


@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=12), st.lists(st.integers(0, 5), min_size=1, max_size=12)
)
def test_roc_auc_equals_pairwise_definition(pos, neg):
    pairs = [(1.0 if p > n else 0.5 if p == n else 0.0) for p in pos for n in neg]
    assert roc_auc(pos, neg) == pytest.approx(sum(pairs) / len(pairs))


def test_balanced_accuracy_at_threshold():
    assert balanced_accuracy([9, 2], [1, 6], threshold=5) == 0.5
    assert balanced_accuracy([9, 8], [1, 0], threshold=5) == 1.0


def _rec(acts, kind):
    return ActivationRecord([f"t{i}" for i in range(len(acts))], acts, kind=kind)


def test_score_is_one_correlation_over_all_tokens_with_detail():
    records = [_rec([0, 5, 0], "top"), _rec([0, 0, 0], "random")]
    perfect = score_predictions(records, [[0, 10, 0], [0, 0, 0]], "s", "v")
    assert perfect.score == 1.0 and perfect.per_record == [1.0, 0.0]
    assert perfect.detail["detection"] == {"roc_auc": 1.0, "balanced_accuracy": 1.0}
    # Predicting high on the random record is punished in the pooled score.
    noisy = score_predictions(records, [[0, 10, 0], [10, 10, 10]], "s", "v")
    assert noisy.score < 0.5
    assert noisy.detail["worst_misses"][0] == {
        "record": 1,
        "token_index": 0,
        "token": "t0",
        "actual": 0.0,
        "predicted": 10,
    }
    assert math.isclose(noisy.detail["detection"]["roc_auc"], 0.5)


def test_score_rejects_mismatched_predictions():
    with pytest.raises(ValueError, match="predictions for a record of 3 tokens"):
        score_predictions([_rec([0, 1, 0], "top")], [[1, 2]])
    with pytest.raises(ValueError, match="1 predictions for 2 records"):
        score_predictions([_rec([0], "top"), _rec([0], "top")], [[1]])


def test_select_records_balances_top_and_random():
    top = [_rec([i], "") for i in range(5)]
    rnd = [_rec([0], "") for _ in range(3)]
    chosen = select_records(top, rnd)
    assert [r.kind for r in chosen] == ["top"] * 3 + ["random"] * 3
    assert [r.kind for r in select_records(top, rnd, limit=2)] == ["top", "top", "random", "random"]
    assert [r.kind for r in select_records(top[:2], [])] == ["top", "top"]
