"""Open-data export and import of one campaign (jsonl or parquet), deterministic by construction.

An export is a directory: one file per table of store/export_schema.py plus ``manifest.json``.
The data files hold no trace of the export itself (no export time, no local ids; explanations
are numbered by their order), rows are sorted by natural keys, and JSON is written in one
canonical form — so export -> import elsewhere -> export gives byte-identical data files.
Only the manifest (export time, file checksums) differs between two exports.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from engine.display_text import record_display, scheme_for_model
from store.export_schema import (
    FORMAT_MINOR,
    FORMAT_VERSION,
    FORMATS,
    IMPLIED,
    MANIFEST,
    TABLES,
    ExportError,
    arrow_schema,
    check_row,
)
from store.models import Campaign, Explanation, Neuron, Player, Score, Snippet
from store.reference import iso, vote_counts
from store.reference_models import ImportedVotes
from store.units import check_unit, default_source_kind, source_kind_of


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


# -- collecting rows ------------------------------------------------------------------
def campaign_rows(session: Session, name: str) -> dict[str, list[dict[str, Any]]]:
    campaign = session.exec(select(Campaign).where(Campaign.name == name)).first()
    if campaign is None:
        raise ExportError(f"no campaign named {name!r}")
    neurons = list(
        session.exec(select(Neuron).where(Neuron.campaign_id == campaign.id).order_by(col(Neuron.index)))
    )
    index_of = {int(n.id or 0): n.index for n in neurons}
    ids = list(index_of)
    snippets = list(session.exec(select(Snippet).where(col(Snippet.neuron_id).in_(ids))))
    snippets.sort(key=lambda s: (index_of[s.neuron_id], s.kind != "top", s.kind, s.rank, s.id))
    explained = list(
        session.exec(
            select(Explanation, Player.name)
            .join(Player, col(Explanation.player_id) == Player.id, isouter=True)
            .where(col(Explanation.neuron_id).in_(ids), Explanation.status == "visible")
        )
    )
    explained.sort(key=lambda row: (index_of[row[0].neuron_id], row[0].created_at, row[0].id))
    key_of = {int(e.id or 0): n for n, (e, _) in enumerate(explained, start=1)}
    votes = vote_counts(session, key_of)
    scores = list(session.exec(select(Score).where(col(Score.explanation_id).in_(list(key_of)))))
    scores.sort(key=lambda s: (key_of[s.explanation_id], s.simulator, s.version, s.records_version))
    scheme = scheme_for_model(campaign.model)
    return {
        "campaign": [
            {
                "name": campaign.name,
                "model": campaign.model,
                "layer": campaign.layer,
                "unit": campaign.unit,
                "source": campaign.source,
                "source_kind": source_kind_of(campaign),
                "corpus": campaign.corpus,
                "window": campaign.window,
                "neuron_start": campaign.neuron_start,
                "neuron_end": campaign.neuron_end,
                "tokens_seen": campaign.tokens_seen,
                "status": campaign.status,
                "created_at": iso(campaign.created_at),
                "updated_at": iso(campaign.updated_at),
            }
        ],
        "neurons": [
            {
                "index": n.index,
                "max_activation": float(n.max_activation),
                "mean_activation": float(n.mean_activation),
                "frac_active": float(n.frac_active),
                "histogram": canonical_json(n.histogram or {}),
                "records_version": n.records_version,
            }
            for n in neurons
        ],
        "records": [
            {
                "neuron_index": index_of[s.neuron_id],
                "kind": s.kind,
                "rank": s.rank,
                "tokens": list(s.tokens),
                "display": record_display(list(s.tokens), s.display, scheme),
                "activations": [float(a) for a in s.activations],
                "max_activation": float(s.max_activation),
                "max_index": s.max_index,
            }
            for s in snippets
        ],
        "explanations": [
            {
                "key": key_of[int(e.id or 0)],
                "neuron_index": index_of[e.neuron_id],
                "text": e.text,
                "author": author,
                "source": e.source,
                "created_at": iso(e.created_at),
                "votes": votes[int(e.id or 0)][0],
                "audience_votes": votes[int(e.id or 0)][1],
            }
            for e, author in explained
        ],
        "scores": [
            {
                "explanation_key": key_of[s.explanation_id],
                "simulator": s.simulator,
                "version": s.version,
                "records_version": s.records_version,
                "score": float(s.score),
                "per_record": [float(v) for v in s.per_record],
                "detail": canonical_json(s.detail or {}),
                "created_at": iso(s.created_at),
            }
            for s in scores
        ],
    }


# -- files ------------------------------------------------------------------------------
def _write_table(path: Path, table: str, rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8", newline="\n") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n")
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(table)
    data = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(data, path, compression="zstd", write_statistics=True)


def _read_table(path: Path, table: str, fmt: str, minor: int) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        rows = []
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                try:
                    raw = json.loads(line)
                except ValueError as exc:
                    raise ExportError(f"{table} row {line_no}: not JSON ({exc})") from None
                rows.append(check_row(table, line_no, raw, minor))
        return rows
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        data = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ExportError(f"{path.name}: not a readable parquet file ({exc})") from None
    return [check_row(table, n, row, minor) for n, row in enumerate(data.to_pylist(), start=1)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_campaign(session: Session, name: str, fmt: str, out: Path) -> dict[str, Any]:
    """Write the export into directory ``out`` (created; must be empty); returns the manifest."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use jsonl or parquet")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty directory")
    rows = campaign_rows(session, name)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for table in TABLES:
        path = out / f"{table}.{fmt}"
        _write_table(path, table, rows[table], fmt)
        files[path.name] = {"table": table, "rows": len(rows[table]), "sha256": _sha256(path)}
    manifest = {
        "format_version": FORMAT_VERSION,
        "format_minor": FORMAT_MINOR,
        "format": fmt,
        "campaign": name,
        # The only time-dependent value of an export; kept out of the data files on purpose.
        "exported_at": datetime.now(UTC).isoformat(),
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def read_export(path: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """(manifest, rows per table), every file checked against its checksum and the schema."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{path} has no {MANIFEST}: not an export directory") from None
    except ValueError as exc:
        raise ExportError(f"{MANIFEST} is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise ExportError(f"{MANIFEST}: unsupported format_version (this version reads {FORMAT_VERSION})")
    minor = manifest.get("format_minor", 0)  # exports before minor versions existed are 1.0
    if not isinstance(minor, int) or isinstance(minor, bool) or not 0 <= minor <= FORMAT_MINOR:
        raise ExportError(
            f"{MANIFEST}: unsupported format_minor {minor!r} (this version reads {FORMAT_VERSION}.0-"
            f"{FORMAT_VERSION}.{FORMAT_MINOR})"
        )
    fmt = manifest.get("format")
    if fmt not in FORMATS:
        raise ExportError(f"{MANIFEST}: unknown format {fmt!r}")
    listed = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    rows = {}
    for table in TABLES:
        name = f"{table}.{fmt}"
        file = path / name
        if not file.is_file():
            raise ExportError(f"{name} is missing from the export")
        entry = listed.get(name)
        if not isinstance(entry, dict) or entry.get("sha256") != _sha256(file):
            raise ExportError(f"{name} does not match the checksum in {MANIFEST} (damaged or edited)")
        rows[table] = _read_table(file, table, fmt, minor)
    if len(rows["campaign"]) != 1:
        raise ExportError("campaign table must hold exactly one row")
    return manifest, rows


def import_campaign(session: Session, path: Path) -> dict[str, int]:
    """Load an export in one transaction: all of it, or nothing (ExportError says why)."""
    _, rows = read_export(path)
    meta = rows["campaign"][0]
    if session.exec(select(Campaign).where(Campaign.name == meta["name"])).first() is not None:
        raise ExportError(f"a campaign named {meta['name']!r} already exists here; nothing imported")
    try:
        counts = _insert(session, rows)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return counts


def _when(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ExportError(f"{where}: {value!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json(value: str, where: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        raise ExportError(f"{where}: not JSON text") from None


def _insert(session: Session, rows: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    # An export older than 1.2 has no unit columns: its campaign is of neurons.
    implied = {column: value for (table, column), value in IMPLIED.items() if table == "campaign"}
    meta = {**implied, **rows["campaign"][0]}
    # Before 1.3 a latent campaign's source was always an SAE (transcoders came with 1.3).
    meta.setdefault("source_kind", default_source_kind(meta["unit"]))
    try:
        check_unit(meta["unit"], meta["source"], meta["source_kind"])
    except ValueError as exc:
        raise ExportError(f"campaign row 1: {exc}") from None
    created, updated = _when(meta.pop("created_at"), "campaign"), _when(meta.pop("updated_at"), "campaign")
    campaign = Campaign(**meta, created_at=created, updated_at=updated)
    session.add(campaign)
    session.flush()
    neuron_id: dict[int, int] = {}
    for row in rows["neurons"]:
        if row["index"] in neuron_id:
            raise ExportError(f"neuron {row['index']} appears twice in the neurons table")
        fields = {**row, "histogram": _json(row["histogram"], f"neuron {row['index']}")}
        neuron = Neuron(campaign_id=campaign.id, **fields)
        session.add(neuron)
        session.flush()
        neuron_id[row["index"]] = int(neuron.id or 0)

    def neuron_of(index: int, where: str) -> int:
        if index not in neuron_id:
            raise ExportError(f"{where}: neuron {index} is not in the neurons table")
        return neuron_id[index]

    for n, row in enumerate(rows["records"], start=1):
        # display: kept where it fits the tokens (a file's own text, as mining keeps it);
        # otherwise None, and it is derived from the tokens when served.
        fields = {k: v for k, v in row.items() if k not in ("neuron_index", "display")}
        shown = row.get("display")
        if isinstance(shown, list) and len(shown) == len(fields.get("tokens") or []):
            fields["display"] = [str(p) for p in shown]
        session.add(Snippet(neuron_id=neuron_of(row["neuron_index"], f"records row {n}"), **fields))
    authors: dict[str, int] = {}
    explanation_id: dict[int, int] = {}
    for row in rows["explanations"]:
        where = f"explanation {row['key']}"
        if row["key"] in explanation_id:
            raise ExportError(f"{where}: key appears twice")
        author = row["author"]
        if author is not None and author not in authors:
            # Authors come as names only: each becomes a guest here, never a local account.
            player = Player(name=author, is_guest=True)
            session.add(player)
            session.flush()
            authors[author] = int(player.id or 0)
        e = Explanation(
            neuron_id=neuron_of(row["neuron_index"], where),
            player_id=authors.get(author) if author is not None else None,
            text=row["text"],
            source=row["source"],
            created_at=_when(row["created_at"], where),
        )
        session.add(e)
        session.flush()
        explanation_id[row["key"]] = int(e.id or 0)
        if row["votes"] or row["audience_votes"]:
            session.add(
                ImportedVotes(explanation_id=e.id, votes=row["votes"], audience_votes=row["audience_votes"])
            )
    seen: defaultdict[int, set[tuple[str, str, int]]] = defaultdict(set)
    for n, row in enumerate(rows["scores"], start=1):
        where = f"scores row {n}"
        key = row["explanation_key"]
        if key not in explanation_id:
            raise ExportError(f"{where}: explanation {key} is not in the explanations table")
        ident = (row["simulator"], row["version"], row["records_version"])
        if ident in seen[key]:
            raise ExportError(f"{where}: the same simulator, version and records_version appear twice")
        seen[key].add(ident)
        fields = {k: v for k, v in row.items() if k not in ("explanation_key", "detail", "created_at")}
        session.add(
            Score(
                explanation_id=explanation_id[key],
                detail=_json(row["detail"], where),
                created_at=_when(row["created_at"], where),
                **fields,
            )
        )
    session.flush()
    return {table: len(table_rows) for table, table_rows in rows.items()}
