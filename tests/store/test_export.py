"""Export -> import into an empty data dir -> export gives identical data files; bad exports lose nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlmodel import func, select

from config.settings import Settings
from server.cli.main import main
from store.db import Database
from store.export import read_export
from store.export_schema import MANIFEST, TABLES, ExportError
from store.models import Campaign, Explanation, Player, Snippet
from tests.store.test_units import downgrade_export
from tests.support.reference_data import Seeded, seed_reference


@pytest.fixture
def seeded(db: Database) -> Seeded:
    seeded = seed_reference(db)
    with db.session() as s:
        hidden = Explanation(neuron_id=seeded.neuron_ids[3], text="removed by a moderator", status="removed")
        s.add(hidden)
        s.commit()
    return seeded


def fresh_instance(tmp_path: Path, name: str) -> Settings:
    """Settings of an instance with an empty data dir (embedded SQLite, nothing in it yet)."""
    return Settings(data_dir=tmp_path / name)


def data_files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.name != MANIFEST}


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_round_trip_gives_identical_files(
    fmt: str, settings: Settings, seeded: Seeded, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert (
        main(["export", "--campaign", seeded.campaign, "--format", fmt, "--out", str(first)], settings) == 0
    )
    other = fresh_instance(tmp_path, "other")
    assert main(["import", str(first)], other) == 0
    assert main(["export", "--campaign", seeded.campaign, "--format", fmt, "--out", str(second)], other) == 0

    assert data_files(first) == data_files(second)
    assert sorted(data_files(first)) == sorted(f"{t}.{fmt}" for t in TABLES)
    one, two = (json.loads((p / MANIFEST).read_text()) for p in (first, second))
    assert one["files"] == two["files"]  # only exported_at may differ

    _, rows = read_export(first)
    assert len(rows["neurons"]) == 4 and len(rows["records"]) == 16
    assert [e["text"] for e in rows["explanations"]][:2] == ["dates: days, months and years", "numbers"]
    assert "removed by a moderator" not in {e["text"] for e in rows["explanations"]}
    numbers = rows["explanations"][1]
    assert (numbers["author"], numbers["votes"]) == ("bob", 2)
    sims = {(s["simulator"], s["version"]) for s in rows["scores"] if s["explanation_key"] == numbers["key"]}
    assert sims == {("embedding", "emb-1"), ("llm", "llm-2")}


def test_jsonl_and_parquet_hold_the_same_rows(settings: Settings, seeded: Seeded, tmp_path: Path) -> None:
    for fmt in ("jsonl", "parquet"):
        assert (
            main(
                ["export", "--campaign", seeded.campaign, "--format", fmt, "--out", str(tmp_path / fmt)],
                settings,
            )
            == 0
        )
    assert read_export(tmp_path / "jsonl")[1] == read_export(tmp_path / "parquet")[1]


def test_import_refuses_a_campaign_that_exists(
    settings: Settings, db: Database, seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x"
    assert main(["export", "--campaign", seeded.campaign, "--out", str(out)], settings) == 0
    players = count(db, Player)
    assert main(["import", str(out)], settings) == 2
    assert "already exists" in capsys.readouterr().err
    assert count(db, Campaign) == 1 and count(db, Player) == players


def test_damaged_and_malformed_exports_import_nothing(
    settings: Settings, seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x"
    assert main(["export", "--campaign", seeded.campaign, "--out", str(out)], settings) == 0
    other = fresh_instance(tmp_path, "other")

    # 1. A byte changed after export: the checksum catches it.
    scores = out / "scores.jsonl"
    scores.write_bytes(scores.read_bytes().replace(b"emb-1", b"emb-X", 1))
    assert main(["import", str(out)], other) == 2
    assert "checksum" in capsys.readouterr().err

    # 2. A row that breaks the schema (checksum updated, as a careless editor would).
    lines = scores.read_text().splitlines()
    row = json.loads(lines[-1])
    row["score"] = "high"
    lines[-1] = json.dumps(row)
    scores.write_text("\n".join(lines) + "\n")
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"]["scores.jsonl"]["sha256"] = hashlib.sha256(scores.read_bytes()).hexdigest()
    (out / MANIFEST).write_text(json.dumps(manifest))
    assert main(["import", str(out)], other) == 2
    err = capsys.readouterr().err
    assert f"scores row {len(lines)}: column score must be float" in err and "nothing was imported" in err

    # Neither attempt left anything behind.
    check = Database(other)
    assert count(check, Campaign) == 0 and count(check, Player) == 0 and count(check, Explanation) == 0
    check.dispose()


def test_export_usage_errors(
    settings: Settings, seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--campaign", "nope", "--out", str(tmp_path / "a")], settings) == 2
    assert "no campaign named 'nope'" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main(["export", "--campaign", seeded.campaign, "--out", str(busy)], settings) == 2
    assert (busy / "keep.txt").read_text() == "mine" and len(list(busy.iterdir())) == 1
    assert main(["import", str(tmp_path / "missing")], settings) == 2
    (tmp_path / "empty").mkdir()
    assert main(["import", str(tmp_path / "empty")], settings) == 2
    assert "not an export directory" in capsys.readouterr().err


def test_records_keep_raw_tokens_and_add_display_text(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    seeded = seed_reference(db)
    with db.session() as s:  # one WordPiece record as MiniLM stores it
        snippet = s.exec(select(Snippet).order_by(Snippet.id)).first()  # type: ignore[arg-type]
        assert snippet is not None
        snippet.tokens, snippet.activations = (
            ["[CLS]", "post", "##ne", "##ws", ",", "to", "you", "[SEP]"],
            [0.1] * 8,
        )
        s.add(snippet)
        s.commit()
    out = tmp_path / "x"
    assert main(["export", "--campaign", seeded.campaign, "--out", str(out)], settings) == 0
    manifest, rows = read_export(out)
    assert (manifest["format_version"], manifest["format_minor"]) == (1, 3)
    wordpiece = next(r for r in rows["records"] if r["tokens"][0] == "[CLS]")
    assert wordpiece["display"] == ["", "post", "ne", "ws", ",", " to", " you", ""]
    assert all(len(r["display"]) == len(r["tokens"]) for r in rows["records"])


def test_an_export_of_format_1_0_still_imports(settings: Settings, seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "old"
    assert main(["export", "--campaign", seeded.campaign, "--out", str(out)], settings) == 0
    rows = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    # Rewrite it as format 1.0 wrote it: no display or unit columns, no format_minor.
    downgrade_export(out, 0)
    manifest = json.loads((out / MANIFEST).read_text())
    other = fresh_instance(tmp_path, "other")
    assert main(["import", str(out)], other) == 0
    again = tmp_path / "again"
    assert main(["export", "--campaign", seeded.campaign, "--out", str(again)], other) == 0
    assert [r["display"] for r in read_export(again)[1]["records"]] == [r["display"] for r in rows]
    # A newer minor than this version knows is refused, not half read.
    manifest["format_minor"] = 99
    (out / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match="format_minor 99"):
        read_export(out)


def test_kept_display_text_travels_with_its_record(settings: Settings, db: Database, tmp_path: Path) -> None:
    """Mining keeps each token's text as the corpus wrote it (store.models.Snippet.display); an
    export carries it and an import keeps it, so "e-mail" stays "e-mail" on the other side."""
    seeded = seed_reference(db)
    with db.session() as s:
        snippet = s.exec(select(Snippet).order_by(Snippet.id)).first()  # type: ignore[arg-type]
        assert snippet is not None
        snippet.tokens, snippet.activations = ["e", "-", "mail", "[UNK]"], [0.1, 0.2, 0.3, 0.4]
        snippet.display = [" E", "-", "mail", " café"]
        s.add(snippet)
        s.commit()
    out = tmp_path / "x"
    assert main(["export", "--campaign", seeded.campaign, "--out", str(out)], settings) == 0
    shown = next(r["display"] for r in read_export(out)[1]["records"] if r["tokens"][0] == "e")
    assert shown == ["E", "-", "mail", " café"]  # the first piece without its space, as served
    other = fresh_instance(tmp_path, "other")
    assert main(["import", str(out)], other) == 0
    with Database(other).session() as s:
        rows = [r for r in s.exec(select(Snippet)).all() if r.tokens and r.tokens[0] == "e"]
    assert [r.display for r in rows] == [["E", "-", "mail", " café"]]
