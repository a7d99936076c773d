"""Batched advanced-mode activations equal one-by-one ones, on the real MiniLM and a tiny GPT-2."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.activations import batch_text_activations, text_activations
from engine.models import ModelError, NeuronModel, load_model
from tests.model_fixtures import tiny_gpt2_dir  # noqa: F401 - a fixture

# Lengths from 2 to ~60 tokens, so a batch pads most rows; two requests share a neuron.
TEXTS = [
    "The cat sat on the mat and looked at the dog.",
    "Hi",
    "Numbers like 12, 345 and 6789 appear in text; so do dates: 1999-12-31.",
    "She said: 'Hello, world!' and everybody laughed. " * 4,
    "In 1881 the devil began a dictionary of cynical definitions.",
    "Programs, documents and tests: a programmer's life.",
]


def _assert_same(answer: object, alone: dict) -> None:
    """Equal up to float rounding: a padded batch runs other matrix shapes than one text alone."""
    assert isinstance(answer, dict)
    assert answer["tokens"] == alone["tokens"]
    assert answer["activations"] == pytest.approx(alone["activations"], abs=1e-4)
    assert answer["max"] == pytest.approx(alone["max"], abs=1e-4)
    assert answer["activations"][answer["max_index"]] == answer["max"]


def _assert_batch_equals_one_by_one(model: NeuronModel, layer: int, neurons: list[int]) -> None:
    requests = list(zip(neurons, TEXTS, strict=True))
    batched = batch_text_activations(model, layer, requests)
    assert len(batched) == len(requests)
    widths: set[int] = set()
    for (neuron, text), answer in zip(requests, batched, strict=True):
        _assert_same(answer, text_activations(model, layer, neuron, text))
        widths.add(len(answer["tokens"]))
    assert len(widths) > 3  # the batch really was padded


@pytest.mark.slow
def test_minilm_batch_equals_one_by_one() -> None:
    model = load_model("minilm-l6", device="cpu")
    _assert_batch_equals_one_by_one(model, 3, [5, 1535, 5, 700, 0, 42])


def test_tiny_gpt2_batch_equals_one_by_one(tiny_gpt2_dir: Path) -> None:  # noqa: F811
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    for layer in range(model.n_layers):
        _assert_batch_equals_one_by_one(model, layer, [3, 127, 3, 64, 0, 9])


def test_a_bad_request_fails_alone(tiny_gpt2_dir: Path) -> None:  # noqa: F811
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    too_long = "the cat " * model.max_positions  # more tokens than the model has positions
    requests = [(1, TEXTS[0]), (model.n_neurons, TEXTS[0]), (2, "   "), (3, too_long), (4, TEXTS[2])]
    first, bad_neuron, empty, long, last = batch_text_activations(model, 1, requests)
    _assert_same(first, text_activations(model, 1, 1, TEXTS[0]))
    _assert_same(last, text_activations(model, 1, 4, TEXTS[2]))
    assert isinstance(bad_neuron, ModelError) and f"0-{model.n_neurons - 1}" in str(bad_neuron)
    assert isinstance(empty, ModelError) and str(empty) == "text is empty"
    assert isinstance(long, ModelError) and f"at most {model.max_content_tokens} tokens" in str(long)
    with pytest.raises(ModelError, match="layer 9 out of range"):
        batch_text_activations(model, 9, requests)
    assert batch_text_activations(model, 1, []) == []
