"""The trained head's fixed inputs (since trained-3): embedding's similarities, the same-word sense
evidence, and the grid path the simulator takes against the pair path training takes.

Real parts: the shipped MiniLM; a head with random weights where only the plumbing is tested.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.records import ActivationRecord
from engine.scoring.embedding import EmbeddingSimulator
from engine.scoring.planted import tokenize
from engine.scoring.simulator import SimulatorError
from engine.scoring.trained.features import FeatureEncoder
from engine.scoring.trained.head import EMB_CEILING, EMB_FLOOR, Head, _attend, evidence
from engine.scoring.trained.inputs import (
    Explanations,
    Records,
    explanation_input,
    record_input,
    same_word,
    stems,
)
from engine.scoring.trained.simulator import TrainedSimulator, load_head, record_words

TEXTS = ["We sat on the bank of the river.", "The bank raised its rates.", "Banks lend money (at a price)."]
EXPLANATIONS = [
    'the word "bank" meaning sloping land beside a river',
    "banks as a financial institution",
    "commas",
]


@pytest.fixture(scope="module")
def encoder() -> FeatureEncoder:
    return FeatureEncoder()


def _inputs(encoder: FeatureEncoder, sim: TrainedSimulator) -> tuple[Records, Explanations]:
    tokens = [tokenize(t) for t in TEXTS]
    records = []
    for toks, feats in zip(tokens, encoder.records(tokens), strict=True):
        words = record_words(toks)
        records.append(record_input(words, toks, feats, sim.word_vectors(words)))
    expl = [
        explanation_input(t, f, w)
        for t, f, w in zip(
            EXPLANATIONS, encoder.explanations(EXPLANATIONS), encoder.piece_words(EXPLANATIONS), strict=True
        )
    ]
    return Records.of(records), Explanations.of(expl)


def _grid(r: int, e: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.arange(r).repeat(e), torch.arange(e).repeat_interleave(r)


def test_the_lexical_channel_is_embeddings_own_prediction(encoder: FeatureEncoder) -> None:
    """The head sees exactly what `embedding` predicts (its mix, before the clamp to 0..10)."""
    sim = TrainedSimulator(heads=[Head().eval()], encoder=encoder)
    records, explanations = _inputs(encoder, sim)
    ri, ei = _grid(len(TEXTS), len(EXPLANATIONS))
    _, skip = evidence(records, explanations, torch.zeros(10, 1152), ri, ei, grid=True)
    emb = EmbeddingSimulator()
    recs = [ActivationRecord(tokenize(t), [0.0] * len(tokenize(t))) for t in TEXTS]
    expected = emb.predict_batch(EXPLANATIONS, recs)
    for p in range(len(ri)):
        want = torch.tensor(expected[int(ei[p])][int(ri[p])]) / 10
        n = len(want)
        got = skip[p, :n, 2]  # the mix on 0..1
        assert torch.allclose(got, want.clamp(0, 1), atol=2e-3), (p, got, want)
    assert EMB_CEILING > EMB_FLOOR


def test_the_same_word_inside_the_explanation_is_compared_in_context(encoder: FeatureEncoder) -> None:
    sim = TrainedSimulator(heads=[Head().eval()], encoder=encoder)
    records, explanations = _inputs(encoder, sim)
    ri, ei = _grid(len(TEXTS), len(EXPLANATIONS))
    same = same_word(records, explanations, ri, ei)  # (P, T, 3)
    words = [record_words(tokenize(t)) for t in TEXTS]
    # The river explanation names "bank": its flag is on "bank" in the first two records only
    # ("banks" -> "bank" too), never on function words it uses ("the", "of").
    for r in range(3):
        flags = same[r, : len(words[r]), 2]
        hit = {words[r][t] for t in range(len(words[r])) if flags[t]}
        assert hit == ({"bank"} if r < 2 else {"banks"}) | ({"river"} if r == 0 else set()), hit
    # The cosine is that of the contextual states: the river sentence's "bank" is closer to the
    # river explanation's "bank" than the loan sentence's is (layer 6).
    river_bank = same[0, words[0].index("bank"), 1]
    loan_bank = same[1, words[1].index("bank"), 1]
    assert river_bank > loan_bank
    assert stems("banks") == ("banks", "bank") and stems("is") == ("is",)
    assert not same[2 * 3 :, :, 2].any()  # "commas" names no word of these records


def test_the_grid_path_equals_the_pair_path(encoder: FeatureEncoder) -> None:
    torch.manual_seed(0)
    head = Head().eval()
    sim = TrainedSimulator(heads=[head], encoder=encoder)
    records, explanations = _inputs(encoder, sim)
    ri, ei = _grid(len(TEXTS), len(EXPLANATIONS))
    for a, b in zip(
        evidence(records, explanations, head.ordinals, ri, ei, grid=True),
        evidence(records, explanations, head.ordinals, ri, ei, grid=False),
        strict=True,
    ):
        assert torch.allclose(a, b, atol=1e-5)
    with torch.no_grad():
        _, query = head.encode(records)
        key, value = head.key(explanations.raw), head.value(explanations.raw)
        a = _attend(query, key, value, explanations.mask, ri, ei, grid=True)
        b = _attend(query, key, value, explanations.mask, ri, ei, grid=False)
    assert torch.allclose(a, b, atol=1e-5)


def test_predictions_do_not_depend_on_the_batch_cache(encoder: FeatureEncoder) -> None:
    torch.manual_seed(1)
    sim = TrainedSimulator(heads=[Head().eval()], encoder=encoder)
    recs = [ActivationRecord(tokenize(t), [0.0] * len(tokenize(t))) for t in TEXTS]
    first = sim.predict_batch(EXPLANATIONS, recs)
    again = sim.predict_batch(EXPLANATIONS[::-1], recs)  # records from the batch cache
    assert again == first[::-1]
    sim.forget()
    assert sim.predict_batch(EXPLANATIONS[1:2], recs[1:]) == [first[1][1:]]


def test_a_head_of_an_earlier_design_is_a_clear_error(tmp_path: Path) -> None:
    old = tmp_path / "old.pt"
    torch.save({"config": {}, "state": {"token.weight": torch.zeros(2, 2)}, "meta": {}}, old)
    with pytest.raises(SimulatorError, match="trained-5 head"):
        load_head(old)  # one head of trained-3
    torch.save({"config": {}, "states": [{"token.weight": torch.zeros(2, 2)}], "meta": {}}, old)
    with pytest.raises(SimulatorError, match="trained-5 head"):
        load_head(old)


def test_an_ensemble_predicts_its_heads_average(encoder: FeatureEncoder) -> None:
    torch.manual_seed(2)
    heads = [Head().eval(), Head().eval()]
    heads[0].ordinals.normal_()
    heads[1].ordinals.copy_(heads[0].ordinals)  # one bank in every head, as training sets it
    recs = [ActivationRecord(tokenize(t), [0.0] * len(tokenize(t))) for t in TEXTS]
    both = TrainedSimulator(heads=heads, encoder=encoder).predict_batch(EXPLANATIONS, recs)
    alone = [TrainedSimulator(heads=[h], encoder=encoder).predict_batch(EXPLANATIONS, recs) for h in heads]
    for e in range(len(EXPLANATIONS)):
        for i in range(len(recs)):
            mean = [(a + b) / 2 for a, b in zip(alone[0][e][i], alone[1][e][i], strict=True)]
            assert max(abs(x - y) for x, y in zip(both[e][i], mean, strict=True)) <= 0.0011


def test_the_batched_word_matches_equal_the_per_record_ones() -> None:
    """matched() looks words up once per batch; it must say what structure.matches says."""
    from engine.scoring.trained.features import DIM, HIDDEN
    from engine.scoring.trained.inputs import matched
    from engine.scoring.trained.structure import matches, terms

    tokens = [["The", " bank", " of", " the", " river"], ["A", " (", "bank", ")", " of", "."]]
    records = Records.of(
        [
            record_input(
                [t.strip().lower() for t in x], x, torch.randn(len(x), DIM), torch.randn(len(x), HIDDEN)
            )
            for x in tokens
        ]
    )
    texts = ['the word after "the"', "bank of", "x"]
    explanations = Explanations.of([explanation_input(t, torch.randn(5, DIM), [""] * 5) for t in texts])
    ri, ei = _grid(2, 3)
    got = matched(records, explanations, ri, ei)
    for p in range(6):
        words = records.items[int(ri[p])].words
        assert torch.equal(got[p, : len(words)], matches(words, terms(texts[int(ei[p])])))
        assert not got[p, len(words) :].any()


def test_packed_explanations_are_their_own_passes(encoder: FeatureEncoder) -> None:
    """Scoring packs a call's explanations into rows (each text attending only to itself):
    the states and piece words are those of padded batches within float noise, for more
    texts than one row holds, an empty text and a text longer than the others."""
    texts = [*EXPLANATIONS, "", "x", "the second word of a sentence, " * 12] * 12
    packed, packed_words = encoder.explain(texts)
    batched, batched_words = encoder.explain(texts, packed=False)
    assert packed_words == batched_words
    for a, b in zip(packed, batched, strict=True):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
