"""The local LM simulator on tiny real models (random weights, real tokenizers and forward passes).

A random model says nothing about explanations, so these tests pin the arithmetic: the
packed pass reads what one pass per word would, the prediction is the lift in bits over
the empty explanation, the empty-explanation pass is paid once per record.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import engine.scoring.llm_pointing as llm_module
from engine.records import ActivationRecord
from engine.scoring.continuations import continuation_logprobs, extend_cache
from engine.scoring.llm_pointing import NEUTRAL_EXPLANATION, PointingLMSimulator, predictions_from_logprobs
from engine.scoring.planted import tokenize
from engine.scoring.prompts import pointing_explanation, pointing_head, pointing_record
from tests.engine.scoring_fixtures import build_tiny_lm, load_tiny_lm
from tests.model_fixtures import tiny_llama_dir

__all__ = ["tiny_llama_dir"]  # a fixture, imported for pytest


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)  # the same random weights every run
    return load_tiny_lm(build_tiny_lm(tmp_path_factory.mktemp("tiny-lm") / "gpt2"))


@pytest.fixture(scope="module")
def tiny_llama(tiny_llama_dir: Path):  # type: ignore[no-untyped-def]
    return load_tiny_lm(tiny_llama_dir)


def _record(text: str) -> ActivationRecord:
    tokens = tokenize(text)
    return ActivationRecord(tokens, [0.0] * len(tokens))


def _ids(tokenizer, text: str) -> list[int]:  # type: ignore[no-untyped-def]
    return list(tokenizer.encode(text, add_special_tokens=False))


@torch.inference_mode()
def _direct_logprob(model, ids: list[int], continuation: list[int]) -> float:  # type: ignore[no-untyped-def]
    """log p(continuation | ids) from one plain forward pass over both."""
    logits = model(input_ids=torch.tensor([ids + continuation])).logits[0]
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    return sum(float(logprobs[len(ids) - 1 + j, t]) for j, t in enumerate(continuation))


@pytest.mark.parametrize("which", ["tiny_gpt2", "tiny_llama"])
def test_packed_continuations_equal_one_pass_each(which, request):
    model, tokenizer = request.getfixturevalue(which)
    prefix = _ids(tokenizer, "The cat sat on the mat.\n")
    contexts = [
        (_ids(tokenizer, " and looked"), [_ids(tokenizer, " at"), _ids(tokenizer, " the dog"), [5]]),
        (_ids(tokenizer, " Numbers like 12"), [_ids(tokenizer, ", 345")]),
        (_ids(tokenizer, " she said"), []),
    ]
    cache = extend_cache(model, None, prefix)
    got = continuation_logprobs(model, cache, contexts)
    assert [len(g) for g in got] == [3, 1, 0]
    for (context, continuations), values in zip(contexts, got, strict=True):
        for continuation, value in zip(continuations, values, strict=True):
            assert value == pytest.approx(_direct_logprob(model, prefix + context, continuation), abs=1e-4)
    assert cache.get_seq_length() == len(prefix)  # the shared prompt's cache is left as it was


def test_pointing_record_groups_tokens_into_words():
    record = pointing_record([" Jan", "uary", " 42", ",", "\n", " the", "Ġbank"])
    assert record.answers == [" January", " 42", " ,", " the", " bank"]
    assert record.word_of_token == [0, 0, 1, 2, None, 3, 4]
    assert record.question.startswith("Text: January 42, the bank\n")


def test_prediction_is_the_lift_in_bits_over_the_empty_explanation():
    record = pointing_record([" Jan", "uary", " 42", "\n", " red"])
    explained, neutral = [-1.0, -9.0, -3.0], [-1.0 - 2 * math.log(2), -2.0, -3.0 - 40.0]
    # January: +2 bits for both its tokens; 42: the explanation made it less likely; the blank
    # token has no word; red: 40 nats is far above the top of the scale.
    assert predictions_from_logprobs(record, explained, neutral) == [2.0, 2.0, 0.0, 0.0, 10.0]


def test_simulator_reads_each_word_against_the_empty_explanation(tiny_gpt2):
    model, tokenizer = tiny_gpt2
    sim = PointingLMSimulator(model, tokenizer, model_name="tiny")
    assert sim.version == f"{llm_module.VERSION}:tiny" and llm_module.VERSION != "llm-1"
    record = _record("The cat chased a mouse under the old wooden table.")
    explanation = "names of animals"
    [got] = sim.predict(explanation, [record])

    # The same prompt, built by hand and read with one plain pass per word.
    prompt = pointing_record(record.tokens)
    head = [tokenizer.bos_token_id, *_ids(tokenizer, pointing_head())]

    def word_logprobs(text: str) -> list[float]:
        context = head + _ids(tokenizer, pointing_explanation(text)) + _ids(tokenizer, prompt.question)
        return [_direct_logprob(model, context, _ids(tokenizer, a)) for a in prompt.answers]

    lift = [
        (e - n) / math.log(2)
        for e, n in zip(word_logprobs(explanation), word_logprobs(NEUTRAL_EXPLANATION), strict=True)
    ]
    assert got == pytest.approx([min(10.0, max(0.0, lift[w])) for w in prompt.word_of_token], abs=2e-3)
    assert any(0 < v < 10 for v in got) and 0.0 in got  # both sides of the clamp are exercised


def test_empty_explanation_pass_is_paid_once_per_record(tiny_gpt2, monkeypatch):
    model, tokenizer = tiny_gpt2
    sim = PointingLMSimulator(model, tokenizer, model_name="tiny", batch_size=2)
    seen: list[str] = []
    original = sim._word_logprobs

    def spy(explanation, prepared):  # type: ignore[no-untyped-def]
        seen.append(explanation)
        return original(explanation, prepared)

    monkeypatch.setattr(sim, "_word_logprobs", spy)
    records = [_record("Red and blue paint."), _record("Seven cats slept."), _record("Red and blue paint.")]
    first = sim.predict_batch(["colours", "animals"], records)
    assert seen == [NEUTRAL_EXPLANATION, "colours", "animals"] and len(sim._neutral) == 2
    seen.clear()
    again = sim.predict_batch(["animals"], records)
    assert seen == ["animals"] and again[0] == first[1]  # the neutral pass came from the cache
    monkeypatch.setattr(llm_module, "NEUTRAL_CACHE_MAX", 1)
    sim.predict_batch(["colours"], records[1:2])
    assert list(sim._neutral) == [tuple(records[1].tokens)]  # least recently used went


def test_batch_size_and_order_change_nothing(tiny_llama):
    model, tokenizer = tiny_llama
    records = [_record("In January the lake froze."), _record("Hi"), _record("The cat chased a mouse.")]
    wide = PointingLMSimulator(model, tokenizer, model_name="tiny", batch_size=8)
    narrow = PointingLMSimulator(model, tokenizer, model_name="tiny", batch_size=1)
    batch = wide.predict_batch(["month names", "animals"], records)
    assert [len(p) for p in batch[0]] == [len(r.tokens) for r in records]
    assert all(0.0 <= v <= 10.0 for e in batch for p in e for v in p)
    single = narrow.predict("animals", records[::-1])[::-1]
    for got, want in zip(single, batch[1], strict=True):
        assert got == pytest.approx(want, abs=1e-3)
