"""The OpenAI path end to end: the real `openai` client against a local server speaking the API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from engine.scoring import SimulatorError, make_simulator, score_explanations, select_records
from engine.scoring.openai_sim import OpenAISimulator, expected_value
from engine.scoring.planted import NEURONS
from server.cli.main import main
from tests.openai_stub import OpenAIStub

MONTHS = next(n for n in NEURONS if n.name == "months")
TRUE = "months such as January, March, April, June, October, December, February"


@pytest.fixture
def stub(request) -> Iterator[OpenAIStub]:
    server = OpenAIStub(logprobs=getattr(request, "param", True)).start()
    yield server
    server.stop()


def test_expected_value_over_value_tokens_only():
    assert expected_value({"10": 0.0}) == 10
    assert expected_value({" 0": -0.6931, "10": -0.6931, "unknown": -0.1}) == pytest.approx(5.0, abs=1e-3)
    assert expected_value({"unknown": -0.1}) is None and expected_value(None) is None


def test_completions_with_echo_and_logprobs(stub):
    sim = OpenAISimulator(stub.base_url, "stub-model")
    assert sim.mode == "logprobs" and sim.version == "openai-1:logprobs:stub-model"
    records = select_records(*MONTHS.records())
    right, wrong = score_explanations(sim, [TRUE, "names of animals"], records)
    assert right.score > 0.9 > wrong.score
    assert right.detail["detection"]["roc_auc"] == 1.0
    calls = [body for path, body in stub.requests if path.endswith("/completions")]
    assert all(b["echo"] is True and b["logprobs"] == 5 for b in calls)
    # Batched: several prompts per request, not one request per record.
    assert len(calls) < 2 * len(records)


@pytest.mark.parametrize("stub", [False], indirect=True)
def test_chat_fallback_without_logprobs(stub):
    sim = OpenAISimulator(stub.base_url, "stub-model")
    assert sim.mode == "chat" and sim.version == "openai-1:chat:stub-model"
    records = select_records(*MONTHS.records())
    right, wrong = score_explanations(sim, [TRUE, "names of animals"], records)
    assert right.score > 0.9 > wrong.score and sim.unreadable_lines == 0
    chats = [body for path, body in stub.requests if path.endswith("/chat/completions")]
    assert len(chats) == 2 * len(records) and chats[0]["messages"][0]["role"] == "system"


def test_unreachable_endpoint_and_missing_settings_are_clear_errors(settings):
    with pytest.raises(SimulatorError, match="cannot reach"):
        OpenAISimulator("http://127.0.0.1:9/v1", "m", timeout=2)
    with pytest.raises(SimulatorError, match="NQ_OPENAI_BASE_URL"):
        make_simulator(settings, "openai")


def test_cli_scores_through_the_openai_endpoint(stub, settings, tmp_path, capsys):
    top, rnd = MONTHS.records()
    path = tmp_path / "records.json"
    path.write_text(json.dumps([r.to_json() for r in top + rnd]))
    configured = settings.model_copy(update={"openai_base_url": stub.base_url, "openai_model": "stub-model"})
    argv = ["score", "--records", str(path), "--explanation", TRUE, "--simulator", "openai", "--json"]
    assert main(argv, configured) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"score", "simulator", "version", "per_record"}
    assert out["simulator"] == "openai" and out["score"] > 0.9 and len(out["per_record"]) == len(top + rnd)
