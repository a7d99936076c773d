"""Machine explanations: the explainer prompt, a local LM sampling K, the OpenAI path, the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from engine.records import ActivationRecord
from engine.scoring.explain_prompt import LEAD, clean_explanation, explainer_prompt
from engine.scoring.explainer import ExplainerError, LocalLMExplainer, OpenAIExplainer
from engine.scoring.planted import NEURONS
from server.cli.main import main
from tests.engine.scoring_fixtures import build_tiny_lm, load_tiny_lm
from tests.openai_stub import OpenAIStub

MONTHS = next(n for n in NEURONS if n.name == "months")


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("explainer-lm") / "tiny")


@pytest.fixture(params=[True, False], ids=["completions", "chat-only"])
def stub(request) -> Iterator[OpenAIStub]:
    server = OpenAIStub(completions=request.param).start()
    yield server
    server.stop()


@pytest.fixture
def months_file(tmp_path: Path) -> Path:
    top, rnd = MONTHS.records()
    path = tmp_path / "records.json"
    path.write_text(
        json.dumps(
            [{**r.to_json(), "kind": "top"} for r in top] + [{**r.to_json(), "kind": "random"} for r in rnd]
        )
    )
    return path


def test_prompt_lists_normalised_records_and_ends_with_the_lead():
    records = [
        ActivationRecord(["The", " cat", " sat"], [0.0, 4.0, 1.0]),
        ActivationRecord(["A", " dog", "\t"], [0.0, 2.0, 0.0]),
    ]
    prompt = explainer_prompt(records)
    assert prompt.endswith(f"Explanation of neuron 2 behavior: {LEAD}")
    ours = prompt.rsplit("Neuron 2\n", 1)[1]
    # Normalised over both records (max 4), zeros kept in the full listing, tabs inside tokens escaped.
    assert "<start>\nThe\t0\n cat\t10\n sat\t2\n<end>\n" in ours
    assert "<start>\nA\t0\n dog\t5\n\\t\t0\n<end>\n" in ours
    # The second listing keeps only the active tokens.
    assert "<start>\n cat\t10\n sat\t2\n<end>\n<start>\n dog\t5\n<end>\n" in ours


def test_prompt_keeps_a_window_around_the_peak_and_refuses_silent_neurons():
    long = ActivationRecord([f" w{i}" for i in range(200)], [1.0 if i == 150 else 0.0 for i in range(200)])
    ours = explainer_prompt([long]).rsplit("Neuron 2\n", 1)[1]
    assert " w150\t10" in ours and " w10\t" not in ours and " w199\t" not in ours
    with pytest.raises(ValueError, match="no active records"):
        explainer_prompt([ActivationRecord(["a", "b"], [0.0, 0.0])])
    with pytest.raises(ValueError):
        explainer_prompt([])


@pytest.mark.parametrize(
    ("completion", "cleaned"),
    [
        (" month names.\nNeuron 3", "month names"),
        (' "words about money". It also fires', "words about money"),
        ("\n\n", ""),
        (" " + "very " * 100 + "long", ("very " * 56).strip()),
    ],
)
def test_completions_are_cleaned_to_one_phrase(completion, cleaned):
    assert clean_explanation(completion, 280) == cleaned


def test_local_lm_samples_k_distinct_candidates(tiny_lm_dir):
    model, tokenizer = load_tiny_lm(tiny_lm_dir)
    explainer = LocalLMExplainer(model, tokenizer, model_name="tiny")
    torch.manual_seed(0)
    top, _ = MONTHS.records()
    texts = explainer.explain(top, 3, max_chars=40)
    # A random model writes noise, but through the real path: K cleaned, distinct, bounded phrases.
    assert 1 <= len(texts) <= 3 and len(set(texts)) == len(texts)
    assert all(t and len(t) <= 40 and "\n" not in t for t in texts)
    assert explainer.version == "explain-1:tiny"


def test_openai_explainer_names_the_top_token(stub):
    explainer = OpenAIExplainer(stub.base_url, "stub-model")
    records = [ActivationRecord(["I", " like", " July"], [0.0, 0.1, 3.0])]
    texts = explainer.explain(records, 2)
    assert len(texts) == 2 and all("July" in t for t in texts)
    assert not any(t.startswith(LEAD) for t in texts)  # a chat model's repeated lead-in is cut
    paths = [path for path, _ in stub.requests]
    assert explainer.chat_only == (not stub.has_completions)
    assert any(p.endswith("/chat/completions") for p in paths) == (not stub.has_completions)


def test_unreachable_endpoint_and_missing_settings_are_clear_errors():
    with pytest.raises(ExplainerError, match="NQ_OPENAI_BASE_URL"):
        OpenAIExplainer("", "m")
    explainer = OpenAIExplainer("http://127.0.0.1:9/v1", "m", timeout=2)
    explainer.client = explainer.client.with_options(max_retries=0)
    with pytest.raises(ExplainerError, match="cannot reach"):
        explainer.explain([ActivationRecord(["a"], [1.0])], 1)


def test_cli_explains_and_scores_through_the_endpoint(stub, months_file, settings, capsys):
    s = settings.model_copy(update={"openai_base_url": stub.base_url, "openai_model": "stub-model"})
    argv = ["explain", "--records", str(months_file), "--n", "2", "--explainer", "openai"]
    assert main([*argv, "--score", "--simulator", "embedding", "--json"], s) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["explainer"] == "openai" and len(out["candidates"]) == 2
    scores = [c["score"] for c in out["candidates"]]
    assert scores == sorted(scores, reverse=True) and all(
        c["simulator"] == "embedding" for c in out["candidates"]
    )


def test_cli_with_the_local_lm(tiny_lm_dir, months_file, settings, capsys):
    assert (
        main(["explain", "--records", str(months_file), "--n", "2", "--model", str(tiny_lm_dir)], settings)
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("explainer llm explain-1:tiny") and 2 <= len(out) <= 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n", "0"], "--n must be between 1 and 20"),
        (["--model", "/no/such/model"], "cannot load the explainer model"),
    ],
)
def test_bad_arguments_fail_with_one_line(argv, message, months_file, settings, capsys):
    assert main(["explain", "--records", str(months_file), *argv], settings) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_unknown_neuron_fails_with_one_line(settings, db, capsys):
    assert main(["explain", "--neuron", "nope:3"], settings) == 2
    assert "no neuron 3 in campaign 'nope'" in capsys.readouterr().err


def test_copies_of_the_worked_example_are_dropped():
    from engine.scoring.explain_prompt import EXAMPLE_ANSWER
    from engine.scoring.explainer import _add_unique

    found: list[str] = []
    _add_unique(found, [f" {EXAMPLE_ANSWER}", " Days of the week", " month names.", " month names"], 3, 280)
    assert found == ["month names"]


def test_token_list_baseline_names_the_peak_words():
    from engine.scoring.explainer import TokenListExplainer

    top, _ = MONTHS.records()
    [text] = TokenListExplainer().explain(top, 2)
    assert text.startswith("the words ") and text.count('"') == 6
    named = {w.strip('"') for w in text.removeprefix("the words ").replace(" and ", ", ").split(", ")}
    assert named <= {"january", "february", "march", "april", "may", "october", "december"}
    with pytest.raises(ValueError, match="no active records"):
        TokenListExplainer().explain([ActivationRecord(["a"], [0.0])], 1)


def test_token_list_baseline_names_a_word_piece_as_an_ending_with_real_tokenizers(tmp_path) -> None:
    """The default campaign's WordPiece pieces: "daemon ##s" fired on "##s", and tokens-1 said
    the word "s". It is the ending "-s", for WordPiece and byte-level BPE alike."""
    from transformers import AutoTokenizer

    from engine.models.registry import minilm_dir
    from engine.scoring.explainer import TokenListExplainer
    from tests.model_fixtures import build_tokenizer

    minilm = AutoTokenizer.from_pretrained(minilm_dir())
    bpe = build_tokenizer(tmp_path)
    texts = ["The daemons ran near the tokenizers.", "Old daemons and the tokenizers slept.", "The cat sat."]
    for tok in (minilm, bpe):
        records = []
        for text in texts:
            tokens = tok.convert_ids_to_tokens(tok(text, add_special_tokens=False)["input_ids"])
            text_of = [t.replace("Ġ", " ").removeprefix("##") for t in tokens]
            # Fires on the word "the" and on the plural ending, wherever the tokenizer cut it off.
            acts = [
                1.0 if w.strip().lower() == "the" or (w == "s" and i) else 0.0 for i, w in enumerate(text_of)
            ]
            records.append(ActivationRecord(tokens, acts))
        assert any(a for r in records for a in r.activations), tok
        [text] = TokenListExplainer().explain(records, 1)
        assert '"-s"' in text and "the ending" in text and '"s"' not in text, text
        assert text.startswith('the word "the"'), text
    # "it's" is it ' s in WordPiece: the clitic "'s", not the word "s".
    tokens = minilm.tokenize("It's the cat's toy and it's hers.")
    clitic = [ActivationRecord(tokens, [1.0 if t == "s" else 0.0 for t in tokens])]
    assert TokenListExplainer().explain(clitic, 1) == ['the word "\'s"']
    whole = [ActivationRecord(["the", "cats", "sat"], [0.0, 1.0, 0.0])]
    assert TokenListExplainer().explain(whole, 1) == ['the word "cats"']  # a whole word stays a word
