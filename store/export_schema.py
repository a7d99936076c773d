"""The open-data export's tables and columns (documented in docs/EXPORT.md), and their checks.

One definition serves both formats: JSON Lines (one object per line, keys in this order) and
Parquet (the matching Arrow schema). Every row read back is checked against it, so a damaged
or foreign file is refused with the table, line and column named.
"""

from __future__ import annotations

from typing import Any

FORMAT_VERSION = 1
# Minor versions only add columns; a reader of minor m reads every file of minor <= m (the
# columns a file predates are simply absent). 1: records.display. 2: campaign.unit and
# campaign.source (what its puzzles are: neurons, or an SAE's latents; absent = neurons).
# 3: campaign.source_kind ("neurons", "sae" or "transcoder"; absent = what the unit implies).
FORMAT_MINOR = 3
FORMATS = ("jsonl", "parquet")
MANIFEST = "manifest.json"

STR, INT, FLOAT, OPT_STR = "string", "int", "float", "string?"
STR_LIST, FLOAT_LIST = "list<string>", "list<float>"

# table -> [(column, type)], in file order. Tables are written in this order too.
TABLES: dict[str, list[tuple[str, str]]] = {
    "campaign": [
        ("name", STR),
        ("model", STR),
        ("layer", INT),
        ("unit", STR),  # "neuron" | "latent" (store/units.py)
        ("source", STR),  # "neurons" | the SAE's name: a unit is (model, layer, source, index)
        ("source_kind", STR),  # "neurons" | "sae" | "transcoder" (store/units.py)
        ("corpus", STR),
        ("window", INT),
        ("neuron_start", INT),
        ("neuron_end", INT),
        ("tokens_seen", INT),
        ("status", STR),
        ("created_at", STR),
        ("updated_at", STR),
    ],
    "neurons": [
        ("index", INT),
        ("max_activation", FLOAT),
        ("mean_activation", FLOAT),
        ("frac_active", FLOAT),
        ("histogram", STR),  # canonical JSON text: {"counts": [...], "edges": [...]}
        ("records_version", INT),
    ],
    "records": [
        ("neuron_index", INT),
        ("kind", STR),
        ("rank", INT),
        ("tokens", STR_LIST),  # as the model saw them (WordPiece "##", byte-level "Ġ" ...)
        ("display", STR_LIST),  # each token as a reader sees it (engine/display_text.py)
        ("activations", FLOAT_LIST),
        ("max_activation", FLOAT),
        ("max_index", INT),
    ],
    "explanations": [
        ("key", INT),  # 1.. in (neuron_index, created_at) order; scores refer to it
        ("neuron_index", INT),
        ("text", STR),
        ("author", OPT_STR),
        ("source", STR),
        ("created_at", STR),
        ("votes", INT),
        ("audience_votes", INT),
    ],
    "scores": [
        ("explanation_key", INT),
        ("simulator", STR),
        ("version", STR),
        ("records_version", INT),
        ("score", FLOAT),
        ("per_record", FLOAT_LIST),
        ("detail", STR),  # canonical JSON text
        ("created_at", STR),
    ],
}


# Longest text the database columns take (PostgreSQL enforces VARCHAR lengths).
MAX_CHARS = {
    ("campaign", "name"): 128,
    ("campaign", "model"): 128,
    ("campaign", "corpus"): 512,
    ("campaign", "unit"): 16,
    ("campaign", "source"): 128,
    ("campaign", "source_kind"): 16,
    ("campaign", "status"): 16,
    ("records", "kind"): 8,
    ("explanations", "text"): 512,
    ("explanations", "author"): 64,
    ("explanations", "source"): 16,
    ("scores", "simulator"): 64,
    ("scores", "version"): 64,
}
# Columns added by a minor version (absent from files of an older minor).
SINCE_MINOR = {
    ("records", "display"): 1,
    ("campaign", "unit"): 2,
    ("campaign", "source"): 2,
    ("campaign", "source_kind"): 3,
}
# What a column a file predates stands for on import (a 1.0 or 1.1 campaign is of neurons).
IMPLIED = {("campaign", "unit"): "neuron", ("campaign", "source"): "neurons"}
# Counts that cannot be negative.
NON_NEGATIVE = {("explanations", "votes"), ("explanations", "audience_votes"), ("explanations", "key")}


class ExportError(ValueError):
    """An export that cannot be read or imported; nothing was written."""


def _ok(value: Any, kind: str) -> bool:
    if kind == STR:
        return isinstance(value, str)
    if kind == OPT_STR:
        return value is None or isinstance(value, str)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == FLOAT:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == STR_LIST:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == FLOAT_LIST:
        return isinstance(value, list) and all(_ok(v, FLOAT) for v in value)
    raise AssertionError(kind)


def columns_of(table: str, minor: int = FORMAT_MINOR) -> list[tuple[str, str]]:
    """The table's columns in a file of format minor version ``minor``."""
    return [(c, k) for c, k in TABLES[table] if SINCE_MINOR.get((table, c), 0) <= minor]


def check_row(table: str, line: int, row: Any, minor: int = FORMAT_MINOR) -> dict[str, Any]:
    """The row with floats as float, or ExportError naming what is wrong."""
    columns = columns_of(table, minor)
    where = f"{table} row {line}"
    if not isinstance(row, dict):
        raise ExportError(f"{where}: expected an object")
    names = [c for c, _ in columns]
    if set(row) != set(names):
        missing, extra = sorted(set(names) - set(row)), sorted(set(row) - set(names))
        raise ExportError(f"{where}: missing columns {missing}, unknown columns {extra}")
    for name, kind in columns:
        if not _ok(row[name], kind):
            raise ExportError(f"{where}: column {name} must be {kind}, got {row[name]!r:.60}")
        limit = MAX_CHARS.get((table, name))
        if limit is not None and row[name] is not None and len(row[name]) > limit:
            raise ExportError(f"{where}: column {name} is longer than {limit} characters")
        if (table, name) in NON_NEGATIVE and row[name] < 0:
            raise ExportError(f"{where}: column {name} cannot be negative")
        if kind == FLOAT:
            row[name] = float(row[name])
        elif kind == FLOAT_LIST:
            row[name] = [float(v) for v in row[name]]
    return {name: row[name] for name in names}


def arrow_schema(table: str) -> Any:
    import pyarrow as pa

    types = {
        STR: pa.string(),
        OPT_STR: pa.string(),
        INT: pa.int64(),
        FLOAT: pa.float64(),
        STR_LIST: pa.list_(pa.string()),
        FLOAT_LIST: pa.list_(pa.float64()),
    }
    return pa.schema(
        [pa.field(name, types[kind], nullable=kind == OPT_STR) for name, kind in columns_of(table)]
    )
