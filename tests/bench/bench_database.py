"""The game's hot SQL at scale on PostgreSQL (docs/SCALING.md "The database").

    NQ_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_<you> flock /tmp/nq-heavy.lock \\
        .venv/bin/pytest -q -s tests/bench/bench_database.py -o addopts=""

Fills the test database with BENCH_DB_PLAYERS players (100,000) and what a day of a million
players leaves per 100,000 of them (3 explanations, 6 votes, 10 point events each; 3,000
neurons), then times the queries a web process runs per move, join and round with the
project's own functions (store/), 200 times each: p50 / p99 in ms and the plan's access path.
Each query with an index of migration 0004_i19 is timed without that index first (dropped in
this scratch database) and then with it, in the same run: the ratio is the index's worth.
Skipped on SQLite.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session

from store.db import Database
from store.explanations import best_scores, cast_vote, create_explanation, neuron_history
from store.players import create_guest, total_points
from store.puzzles import playable_neurons, solved_neurons
from tests.bench.loadgen import percentile

PLAYERS = int(os.environ.get("BENCH_DB_PLAYERS", "100000"))
NEURONS = 3_000
RUNS = 200

# What 0004_i19 adds: (name, table, columns) — the bench drops each, times, creates, times.
INDEXES = [
    ("ix_explanation_player_neuron", "explanation", "(player_id, neuron_id)"),
    ("ix_pointevent_player_amount", "pointevent", "(player_id, amount)"),
]

SEED = [
    "INSERT INTO player (id, name, is_guest, created_at) "
    "SELECT i, 'p' || i, true, now() FROM generate_series(1, :p) i",
    'INSERT INTO campaign (id, name, model, layer, corpus, "window", neuron_start, neuron_end, '
    "tokens_seen, status, created_at, updated_at) "
    "VALUES (1, 'scale', 'm', 0, '', 64, 0, :n, 0, 'ready', now(), now())",
    "INSERT INTO neuron (id, campaign_id, index, max_activation, mean_activation, frac_active, histogram, "
    "records_version) SELECT i, 1, i, 1.0, 0, 0, '{}', 1 FROM generate_series(1, :n) i",
    "INSERT INTO snippet (neuron_id, kind, rank, tokens, activations, max_activation, max_index) "
    "SELECT 1 + i % :n, 'top', i / :n, '[]', '[]', 1.0, 0 FROM generate_series(0, 2 * :n - 1) i",
    "INSERT INTO explanation (id, neuron_id, player_id, text, source, status, created_at) "
    "SELECT i, 1 + i % :n, 1 + (i::bigint * 7919) % :p, 'e' || i, 'player', 'visible', now() "
    "FROM generate_series(1, 3 * :p) i",
    "INSERT INTO vote (explanation_id, player_id, audience, created_at) "
    "SELECT 1 + i % (3 * :p), 1 + (i::bigint * 104723) % :p, false, now() FROM generate_series(1, 6 * :p) i "
    "ON CONFLICT DO NOTHING",
    "INSERT INTO score (explanation_id, simulator, version, records_version, score, per_record, detail, "
    "created_at) SELECT i, 'sim', 'v1', 1, (i % 100) / 100.0, '[]', '{}', now() "
    "FROM generate_series(1, 3 * :p) i",
    "INSERT INTO pointevent (player_id, amount, reason, created_at) "
    "SELECT 1 + i % :p, 10, 'vote', now() - (i % 86400) * interval '1 second' "
    "FROM generate_series(1, 10 * :p) i",
]


def _seed(db: Database) -> None:
    with db.engine.begin() as conn:
        for statement in SEED:
            conn.execute(text(statement), {"p": PLAYERS, "n": NEURONS})
        for table in ("player", "explanation", "neuron"):
            top = f"(SELECT max(id) FROM {table})"
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})"))
    _vacuum(db)


def _vacuum(db: Database) -> None:
    """Statistics and the visibility map, as autovacuum would leave them: index-only scans need it."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _time(db: Database, work: Callable[[Session, int], Any]) -> tuple[float, float]:
    took = []
    for i in range(RUNS):
        with db.session() as s:
            start = time.perf_counter()
            work(s, i)
            took.append((time.perf_counter() - start) * 1000)
    return percentile(took, 0.5), percentile(took, 0.99)


def _plan(db: Database, sql: str) -> str:
    with db.engine.connect() as conn:
        rows = conn.execute(text("EXPLAIN " + sql)).all()
    paths = [r[0].strip() for r in rows if "Scan" in r[0]]
    return "; ".join(p.split("  (")[0].lstrip("-> ") for p in paths[:2])


def _queries() -> dict[str, tuple[Callable[[Session, int], Any], str]]:
    members = list(range(1, 1_001))
    return {
        "solved_neurons (1,000 members)": (
            lambda s, i: solved_neurons(s, [m + i for m in members]),
            "SELECT DISTINCT neuron_id FROM explanation WHERE player_id = ANY(ARRAY[1,2,3,4,5])",
        ),
        "total_points (join)": (
            lambda s, i: total_points(s, 1 + i * 37 % PLAYERS),
            "SELECT coalesce(sum(amount), 0) FROM pointevent WHERE player_id = 42",
        ),
        "neuron_history (puzzle)": (
            lambda s, i: neuron_history(s, 1 + i % NEURONS, 5),
            "SELECT * FROM explanation WHERE neuron_id = 7 AND status = 'visible'",
        ),
        "best_scores (50)": (
            lambda s, i: best_scores(s, range(1 + i * 50, 51 + i * 50)),
            "SELECT explanation_id, max(score) FROM score WHERE explanation_id IN (1,2,3) GROUP BY 1",
        ),
        "playable_neurons (round)": (lambda s, i: playable_neurons(s, "scale"), "SELECT 1"),
        "create_guest (connect)": (lambda s, i: create_guest(s, f"g{i}"), "SELECT 1"),
        "create_explanation (submit)": (
            lambda s, i: create_explanation(s, 1 + i % NEURONS, 1 + i, f"bench {i}", "r", f"r:bench:{i}"),
            "SELECT 1",
        ),
        "cast_vote (vote)": (lambda s, i: cast_vote(s, 1 + i, PLAYERS - i, f"r:bench:{i}"), "SELECT 1"),
    }


def test_hot_queries_at_scale(db: Database) -> None:
    if not db.engine.url.get_backend_name().startswith("postgresql"):
        pytest.skip("PostgreSQL only: set NQ_TEST_DATABASE_URL")
    start = time.perf_counter()
    _seed(db)
    print(f"\nseeded {PLAYERS:,} players in {time.perf_counter() - start:.1f} s")
    with db.engine.begin() as conn:
        for name, _table, _cols in INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    queries = _queries()
    before = {name: _time(db, work) for name, (work, _sql) in list(queries.items())[:2]}
    plans_before = {name: _plan(db, sql) for name, (_w, sql) in list(queries.items())[:2]}
    with db.engine.begin() as conn:
        for name, table, cols in INDEXES:
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {cols}"))
    _vacuum(db)
    for name, (work, sql) in queries.items():
        p50, p99 = _time(db, work)
        line = f"  {name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms; plan: {_plan(db, sql)}"
        if name in before:
            b50, b99 = before[name]
            line += f"\n    without the 0004_i19 index: p50 {b50:.2f} / p99 {b99:.2f} ms"
            line += f" ({b50 / p50:.1f}x / {b99 / p99:.1f}x); plan: {plans_before[name]}"
        print(line)
