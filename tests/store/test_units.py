"""A neuron and a latent of the same model, layer and index are two units, never one (issue 20).

Two campaigns on minilm-l6 layer 3 — its neurons and the latents of an SAE on that layer —
hold units of the same indices. Every key a unit is reached by (its row, the unit URL's
identity, explanations, search hits, related units, exports) must keep them apart.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import redis
from sqlmodel import select

from config import keys
from config.settings import Settings
from server.cli.main import main
from store.db import Database
from store.export import read_export
from store.export_schema import MANIFEST, ExportError
from store.models import Campaign, Explanation
from store.neuron_page import neuron_page
from store.reference import find_neuron, list_explanations, related_neurons
from store.reference_models import RelatedNeuron
from store.search import full_text_search
from store.units import check_unit, find_unit, source_kind_of, unit_label
from tests.support.reference_data import Seeded, seed_reference

SAE = "minilm-l6-l3-topk32"


@pytest.fixture
def both(db: Database) -> tuple[Seeded, Seeded]:
    return seed_reference(db, "neurons-l3"), seed_reference(db, "features-l3", source=SAE)


def test_same_index_two_units(db: Database, both: tuple[Seeded, Seeded]) -> None:
    neurons, latents = both
    with db.session() as s:
        neuron = find_unit(s, "minilm-l6", 3, "neurons", 1)
        latent = find_unit(s, "minilm-l6", 3, SAE, 1)
        assert neuron is not None and latent is not None
        assert neuron[0].id == neurons.neuron_ids[1] and latent[0].id == latents.neuron_ids[1]
        assert (neuron[1].unit, latent[1].unit) == ("neuron", "latent")
        assert find_unit(s, "minilm-l6", 3, "another-sae", 1) is None
        assert find_unit(s, "minilm-l6", 4, SAE, 1) is None
        # The same index through the campaign name: each campaign's own unit.
        by_name = find_neuron(s, campaign="features-l3", index=1)
        assert by_name is not None and by_name[0].id == latents.neuron_ids[1]
        page = neuron_page(s, *latent)
        assert page["neuron"]["label"] == f"Feature 1 of SAE {SAE} on layer 3 of minilm-l6"
        assert (page["neuron"]["unit"], page["neuron"]["source"], page["neuron"]["word"]) == (
            "latent",
            SAE,
            "feature",
        )
        assert neuron_page(s, *neuron)["neuron"]["label"] == "Neuron 1 of layer 3 of minilm-l6"
        # A unit's explanations are its own: the latent's never show on the neuron's page.
        mine = list_explanations(s, 100, None, neuron_id=latent[0].id)
        assert {e["id"] for e in mine.items} <= set(latents.explanation_ids)
        assert not {e["id"] for e in mine.items} & set(neurons.explanation_ids)


def test_search_hits_name_their_unit(db: Database, both: tuple[Seeded, Seeded]) -> None:
    with db.session() as s:
        page = full_text_search(s, "numbers", limit=10)
    units = {(hit["neuron"]["unit"], hit["neuron"]["source"], hit["neuron"]["index"]) for hit in page.items}
    assert units == {("neuron", "neurons", 0), ("latent", SAE, 0)}


def test_related_units_say_how_they_were_found(db: Database, both: tuple[Seeded, Seeded]) -> None:
    neurons, latents = both
    with db.session() as s:
        s.add(
            RelatedNeuron(
                neuron_id=neurons.neuron_ids[0], other_id=neurons.neuron_ids[1], rank=0, correlation=0.5
            )
        )
        s.add(
            RelatedNeuron(
                neuron_id=latents.neuron_ids[0], other_id=latents.neuron_ids[2], rank=0, correlation=0.9
            )
        )
        s.commit()
        assert [(r["index"], r["measure"]) for r in related_neurons(s, neurons.neuron_ids[0])] == [
            (1, "activation_correlation")
        ]
        assert [(r["id"], r["measure"]) for r in related_neurons(s, latents.neuron_ids[0])] == [
            (latents.neuron_ids[2], "decoder_cosine")
        ]


def test_unit_and_source_must_agree() -> None:
    check_unit("neuron", "neurons")
    check_unit("latent", SAE)
    for unit, source in [("latent", "neurons"), ("neuron", SAE), ("feature", SAE), ("latent", "a/b")]:
        with pytest.raises(ValueError):
            check_unit(unit, source)
    assert unit_label("neuron", "neurons", "gpt2", 0, 5) == "Neuron 5 of layer 0 of gpt2"
    check_unit("latent", SAE, "transcoder")
    for unit, kind in [("latent", "neurons"), ("neuron", "sae"), ("latent", "clt")]:
        with pytest.raises(ValueError, match="source is one of"):
            check_unit(unit, SAE if unit == "latent" else "neurons", kind)
    assert (
        unit_label("latent", "tc", "gpt2", 1, 5, "transcoder")
        == "Feature 5 of transcoder tc on layer 1 of gpt2"
    )


def test_a_transcoder_campaign_says_so_everywhere(db: Database) -> None:
    seeded = seed_reference(db, "tc-l3", source="minilm-l6-l3-tc")
    with db.session() as s:
        campaign = s.exec(select(Campaign).where(Campaign.name == "tc-l3")).one()
        assert source_kind_of(campaign) == "sae"  # a row that predates the column: an SAE's
        campaign.source_kind = "transcoder"
        s.add(campaign)
        s.commit()
        found = find_unit(s, "minilm-l6", 3, "minilm-l6-l3-tc", 2)
        assert found is not None and found[0].id == seeded.neuron_ids[2]
        page = neuron_page(s, *found)["neuron"]
        assert page["label"] == "Feature 2 of transcoder minilm-l6-l3-tc on layer 3 of minilm-l6"
        assert (page["source_kind"], page["word"]) == ("transcoder", "feature")


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.name != MANIFEST}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_latent_campaign_round_trip(
    fmt: str, settings: Settings, both: tuple[Seeded, Seeded], tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["export", "--campaign", "features-l3", "--format", fmt, "--out", str(first)], settings) == 0
    manifest, rows = read_export(first)
    assert manifest["format_minor"] == 3
    assert (rows["campaign"][0]["unit"], rows["campaign"][0]["source"]) == ("latent", SAE)
    assert rows["campaign"][0]["source_kind"] == "sae"
    other = Settings(data_dir=tmp_path / "other")
    assert main(["import", str(first)], other) == 0
    assert main(["export", "--campaign", "features-l3", "--format", fmt, "--out", str(second)], other) == 0
    assert _files(first) == _files(second)
    db = Database(other)
    try:
        with db.session() as s:
            found = find_unit(s, "minilm-l6", 3, SAE, 2)
            assert found is not None and found[1].unit == "latent"
            assert find_unit(s, "minilm-l6", 3, "neurons", 2) is None  # only the latents came
    finally:
        db.dispose()


def downgrade_export(out: Path, minor: int) -> None:
    """Rewrite a jsonl export as a version of format 1.``minor`` wrote it (1.2 lacks
    campaign.source_kind; 1.1 the unit columns too; 1.0 also records.display and format_minor)."""
    manifest = json.loads((out / MANIFEST).read_text())
    campaign = {"source_kind"} | ({"unit", "source"} if minor < 2 else set())
    dropped = {"campaign": campaign, "records": {"display"} if minor < 1 else set()}
    for table, columns in dropped.items():
        path = out / f"{table}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text(
            "".join(json.dumps({k: v for k, v in r.items() if k not in columns}) + "\n" for r in rows)
        )
        manifest["files"][path.name]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    if minor == 0:
        del manifest["format_minor"]
    else:
        manifest["format_minor"] = minor
    (out / MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("minor", [0, 1])
def test_old_exports_import_as_neurons(
    minor: int, settings: Settings, both: tuple[Seeded, Seeded], tmp_path: Path
) -> None:
    out = tmp_path / "old"
    assert main(["export", "--campaign", "neurons-l3", "--out", str(out)], settings) == 0
    downgrade_export(out, minor)
    other = Settings(data_dir=tmp_path / "other")
    assert main(["import", str(out)], other) == 0
    db = Database(other)
    try:
        with db.session() as s:
            campaign = s.exec(select(Campaign)).one()
            assert (campaign.unit, campaign.source) == ("neuron", "neurons")
            assert len(list(s.exec(select(Explanation)))) == 5
    finally:
        db.dispose()


def test_a_1_2_latent_export_imports_as_an_sae_and_a_transcoder_round_trips(
    settings: Settings, db: Database, both: tuple[Seeded, Seeded], tmp_path: Path
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    assert main(["export", "--campaign", "features-l3", "--out", str(old)], settings) == 0
    downgrade_export(old, 2)
    with db.session() as s:
        campaign = s.exec(select(Campaign).where(Campaign.name == "features-l3")).one()
        campaign.source_kind = "transcoder"
        s.add(campaign)
        s.commit()
    assert main(["export", "--campaign", "features-l3", "--out", str(new)], settings) == 0
    assert read_export(new)[1]["campaign"][0]["source_kind"] == "transcoder"
    for path, kind in [(old, "sae"), (new, "transcoder")]:
        other = Settings(data_dir=tmp_path / f"other-{kind}")
        assert main(["import", str(path)], other) == 0
        imported = Database(other)
        try:
            with imported.session() as s:
                assert s.exec(select(Campaign)).one().source_kind == kind
        finally:
            imported.dispose()


def test_an_export_cannot_call_neurons_latents(
    settings: Settings, both: tuple[Seeded, Seeded], tmp_path: Path
) -> None:
    out = tmp_path / "bad"
    assert main(["export", "--campaign", "neurons-l3", "--out", str(out)], settings) == 0
    path = out / "campaign.jsonl"
    row = json.loads(path.read_text())
    path.write_text(json.dumps({**row, "unit": "latent"}) + "\n")
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"]["campaign.jsonl"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (out / MANIFEST).write_text(json.dumps(manifest))
    other = Settings(data_dir=tmp_path / "other")
    from store.export import import_campaign

    db = Database(other)
    try:
        with db.session() as s, pytest.raises(ExportError, match="cannot have source"):
            import_campaign(s, out)
        with db.session() as s:
            assert s.exec(select(Campaign)).first() is None
    finally:
        db.dispose()


def test_redis_keys_of_a_unit_are_its_own(
    redis_client: redis.Redis, db: Database, both: tuple[Seeded, Seeded]
) -> None:
    """Every per-unit Redis key is made from the unit's row id (config/keys.py): marking the
    neuron does not mark the latent of the same model, layer and index."""
    neurons, latents = both
    neuron, latent = neurons.neuron_ids[1], latents.neuron_ids[1]
    for make in (keys.rescore_pending, keys.scoring_warmed):
        redis_client.set(make(neuron), 1)
        assert make(neuron) != make(latent) and not redis_client.exists(make(latent))
    redis_client.sadd(keys.seeding_pending(), neuron)
    assert not redis_client.sismember(keys.seeding_pending(), latent)
