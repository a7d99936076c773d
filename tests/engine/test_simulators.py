"""Simulators on real models: the embedding one (shipped MiniLM), the all-at-once LLM one (a tiny
local LM) and the prompts. The pointing LLM simulator has its own tests (test_scoring_llm.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.records import ActivationRecord
from engine.scoring.embedding import EmbeddingSimulator
from engine.scoring.llm import LocalLMSimulator
from engine.scoring.planted import NEURONS, tokenize
from engine.scoring.prompts import all_at_once, parse_chat_answer
from engine.scoring.simulator import token_texts
from engine.scoring.validation import validate
from tests.engine.scoring_fixtures import build_tiny_lm, load_tiny_lm


@pytest.fixture(scope="session")
def embedding() -> EmbeddingSimulator:
    return EmbeddingSimulator()


@pytest.fixture(scope="session")
def tiny_lm_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    root = tmp_path_factory.mktemp("tiny-lm")
    return {ten: build_tiny_lm(root / f"ten-{ten}", ten_is_one_token=ten) for ten in (True, False)}


def _sentence(text: str) -> ActivationRecord:
    tokens = tokenize(text)
    return ActivationRecord(tokens, [0.0] * len(tokens))


def test_embedding_predictions_cover_every_token_on_the_scale(embedding):
    records = [_sentence("In March we went to Paris."), _sentence("Hi")]
    preds = embedding.predict("month names", records)
    assert [len(p) for p in preds] == [len(r.tokens) for r in records]
    assert all(0.0 <= v <= 10.0 for p in preds for v in p)
    march = preds[0][1]
    assert march == max(preds[0]) and march > 5


def test_embedding_context_counts_for_the_same_word(embedding):
    money = _sentence("He went to the bank to deposit his salary and ask about a loan.")
    river = _sentence("We sat on the grassy bank of the river and watched the ducks.")
    i_money, i_river = money.tokens.index(" bank"), river.tokens.index(" bank")
    finance = embedding.predict("the word bank meaning a financial institution", [money, river])
    assert finance[0][i_money] > finance[1][i_river]
    shore = embedding.predict("the word bank meaning the land along a river", [money, river])
    assert shore[1][i_river] - shore[0][i_money] > finance[1][i_river] - finance[0][i_money]


def test_embedding_reads_wordpiece_and_bpe_tokens(embedding):
    assert token_texts(["the", "bank", "##s"]) == ["the", " bank", "s"]
    assert token_texts(["Ġthe", "Ġbank"]) == [" the", " bank"]
    record = ActivationRecord(["in", "jan", "##uary", "we"], [0, 1, 1, 0])
    [preds] = embedding.predict("month names", [record])
    assert len(preds) == 4 and max(preds) in (preds[1], preds[2])


def test_embedding_batch_equals_one_by_one(embedding):
    records = [_sentence("Red and blue paint."), _sentence("Seven cats slept.")]
    batch = embedding.predict_batch(["colours", "animals"], records)
    assert batch[1] == embedding.predict("animals", records)


def test_embedding_lexical_validation_meets_the_goal(embedding):
    report = validate(embedding, [n for n in NEURONS if n.kind == "lexical"])
    assert report["lexical_auc"] >= 0.95, report


@pytest.mark.parametrize("ten_is_one_token", [True, False])
def test_llm_simulator_reads_every_slot_in_one_pass(tiny_lm_dirs, ten_is_one_token):
    model, tokenizer = load_tiny_lm(tiny_lm_dirs[ten_is_one_token])
    sim = LocalLMSimulator(model, tokenizer, model_name="tiny")
    assert sim.top == (10 if ten_is_one_token else 9)
    assert sim.version == "llm-1:tiny"
    records = [_sentence("In January the lake froze."), _sentence("The cat chased a mouse.")]
    batch = sim.predict_batch(["month names", "animals"], records)
    assert [len(p) for p in batch[0]] == [len(r.tokens) for r in records]
    assert all(0.0 <= v <= 10.0 for e in batch for p in e for v in p)
    single = sim.predict("animals", records)
    for got, want in zip(single, batch[1], strict=True):
        assert got == pytest.approx(want, abs=1e-3)  # padding in a batch changes nothing


def test_prompt_slots_point_at_each_value():
    prompt = all_at_once("month names", [" In", "\tx", " May"], top=9)
    assert [prompt.text[s : s + 7] for s in prompt.slots] == ["unknown"] * 3
    assert "go from 0 to 9" in prompt.text and "\\tx\tunknown" in prompt.text
    assert "".join(prompt.segments()) == prompt.text


def test_chat_answers_are_parsed_by_line_and_bad_lines_counted():
    answer = "Sure!\n<start>\n In\t0\n January\t10\n 42\n the\tseven\n<end>"
    assert parse_chat_answer(answer, 5) == ([0.0, 10.0, 0.0, 0.0, 0.0], 3)
    assert parse_chat_answer("a\t99\nb\t-3", 2) == ([10.0, 0.0], 0)


def test_embedding_caches_give_the_same_predictions_and_stay_bounded(embedding, monkeypatch):
    import engine.scoring.embedding as embedding_module

    records = [_sentence("The bank raised its rates."), _sentence("Ducks swam by the bank.")]
    embedding._context_cache.clear()
    embedding._word_cache.clear()
    cold = embedding.predict_batch(["money", "rivers"], records)
    assert len(embedding._context_cache) == 2
    assert embedding.predict_batch(["money", "rivers"], records) == cold  # served from the caches
    monkeypatch.setattr(embedding_module, "CONTEXT_CACHE_MAX", 1)
    embedding.predict_batch(["money"], records)
    assert list(embedding._context_cache) == [tuple(records[1].tokens)]  # least recently used went


def test_an_explanation_is_embedded_once_for_all_its_chunks(embedding, monkeypatch):
    import engine.scoring.embedding as embedding_module

    records = [_sentence("The bank raised its rates."), _sentence("Ducks swam by the bank.")]
    embedding._explanation_cache.clear()
    cold = embedding.predict_batch(["money", "rivers"], records)
    embedded: list[list[str]] = []
    original = embedding.embed
    monkeypatch.setattr(embedding, "embed", lambda texts: embedded.append(list(texts)) or original(texts))
    # One call per chunk of records, as the worker scores: the explanations are not embedded again.
    for record in records:
        embedding.predict_batch(["money", "rivers"], [record])
    assert embedded == []
    assert embedding.predict_batch(["money", "rivers"], records) == cold  # the same predictions
    embedding.predict_batch(["a new one", "money"], records)
    assert embedded == [["a new one"]]  # only what was never embedded
    monkeypatch.setattr(embedding_module, "EXPLANATION_CACHE_MAX", 1)
    embedding.predict_batch(["money"], records)
    assert list(embedding._explanation_cache) == ["money"]  # bounded: the least recent went


@pytest.mark.parametrize(
    ("name", "kind"), [("llm", "LocalLMSimulator"), ("llm-pointing", "PointingLMSimulator")]
)
def test_both_local_llm_simulators_load_by_name(tiny_lm_dirs, settings, name, kind):
    from engine.scoring import make_simulator

    sim = make_simulator(settings.model_copy(update={"simulator_model": str(tiny_lm_dirs[True])}), name)
    assert type(sim).__name__ == kind and sim.name == name
