"""`neuronquest score`: output shapes, stored neurons, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import re

import pytest

from engine.scoring.planted import NEURONS
from server.cli.main import main
from store.models import Campaign, Neuron, Snippet

COLOURS = next(n for n in NEURONS if n.name == "colours")


@pytest.fixture
def records_file(tmp_path):
    top, rnd = COLOURS.records()
    path = tmp_path / "records.json"
    path.write_text(json.dumps([r.to_json() | {"kind": "top"} for r in top] + [r.to_json() for r in rnd]))
    return path


def test_one_explanation_prints_one_object(records_file, settings, capsys):
    assert (
        main(["score", "--records", str(records_file), "--explanation", "colour words", "--json"], settings)
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert (
        set(out) == {"score", "simulator", "version", "per_record"} and out["simulator"] == settings.simulator
    )
    assert out["score"] > 0.5


def test_several_explanations_print_a_list_in_order(records_file, settings, capsys):
    argv = ["score", "--records", str(records_file), "--json", "--explanation", "commas"]
    argv += ["--explanation", "colour words such as red or blue"]
    assert main(argv, settings) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out, list) and len(out) == 2 and out[1]["score"] > out[0]["score"]


def test_stored_neuron_is_scored_on_its_records(settings, db, capsys):
    top, rnd = COLOURS.records()
    with db.session() as s:
        campaign = Campaign(name="camp", model="minilm-l6", layer=3, status="ready")
        s.add(campaign)
        s.commit()
        neuron = Neuron(campaign_id=campaign.id, index=5)
        s.add(neuron)
        s.commit()
        for kind, recs in (("top", top), ("random", rnd)):
            s.add_all(
                Snippet(neuron_id=neuron.id, kind=kind, rank=i, tokens=r.tokens, activations=r.activations)
                for i, r in enumerate(recs)
            )
        s.commit()
    assert main(["score", "--neuron", "camp:5", "--explanation", "colour words"], settings) == 0
    text = capsys.readouterr().out
    assert f"{2 * min(len(top), len(rnd))} records" in text
    # The default simulator (trained-3: 0.99, embedding: 1.00) tells the top records from the random ones.
    assert float(re.search(r"detection AUC ([0-9.]+)", text).group(1)) >= 0.98, text
    assert main(["score", "--neuron", "camp:6", "--explanation", "x"], settings) == 2
    assert "no neuron 6 in campaign 'camp'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such records file"),
        ("{not json", "is not valid JSON"),
        ("[]", "non-empty JSON list"),
        ('[{"tokens": ["a"]}]', "record 0: a record is an object"),
        ('[{"tokens": ["a", "b"], "activations": [1]}]', "record 0: record has 2 tokens but 1 activations"),
        ('[{"tokens": ["a"], "activations": [1], "kind": "best"}]', 'kind must be "top" or "random"'),
    ],
)
def test_bad_records_fail_with_one_line(content, message, tmp_path, settings, capsys):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    assert main(["score", "--records", str(path), "--explanation", "x"], settings) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_arguments_fail_with_one_line(records_file, settings, capsys):
    assert main(["score", "--records", str(records_file), "--explanation", "  "], settings) == 2
    assert "explanation is empty" in capsys.readouterr().err
    assert main(["score", "--neuron", "nocolon", "--explanation", "x"], settings) == 2
    assert "CAMPAIGN:INDEX" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(
            ["score", "--records", str(records_file), "--explanation", "x", "--simulator", "magic"], settings
        )
    assert exc.value.code == 2
