"""Scores of machine explanations on real neurons: their distribution, against a wrong-neuron control.

    NQ_DATA_DIR=DIR .venv/bin/python -m tests.bench.bench_machine_explanations \\
        --campaign minilm-l6-layer3 [--explainer llm|tokens] [--explainer-model smollm2-135m]
        [--k 2] [--limit 50] [--threads 1]

For each neuron of a mined campaign (in DIR's database): K explanations written by the
local explainer from its top records, scored by the configured simulator (embedding by
default) on 20 top + 20 random records, the way the workers score them. The control,
in the same run: each neuron's records scored against the PREVIOUS neuron's machine
explanations — what an explanation that is not about this neuron gets. Prints every
neuron's best candidate, then min / quartiles / max and a histogram of all candidates,
of the best per neuron, and of the control.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from sqlmodel import col, select

from config.settings import get_settings
from engine.scoring import make_simulator, score_explanations, select_records
from engine.scoring.explainer import make_explainer
from store import campaigns
from store.db import Database
from store.models import Neuron

RECORDS_PER_KIND = 20  # as workers/scoring.py
BINS = [-0.4, -0.2, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]


def quartiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    low, high = min(values), max(values)
    return f"n={len(values)} min {low:+.3f}  q1 {q1:+.3f}  median {q2:+.3f}  q3 {q3:+.3f}  max {high:+.3f}"


def histogram(values: list[float]) -> str:
    lines = []
    for low, high in itertools.pairwise(BINS):
        n = sum(1 for v in values if low <= v < high or (high == BINS[-1] and v == high))
        lines.append(f"  [{low:+.1f}, {high:+.1f})  {n:3d} {'#' * n}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--campaign", required=True)
    parser.add_argument("--explainer", default="llm", help="llm (default), openai or tokens")
    parser.add_argument("--explainer-model", help="default: Settings.explainer_model")
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", type=Path, help="write every candidate and score as JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = get_settings()
    if args.explainer_model:
        settings = settings.model_copy(update={"explainer_model": args.explainer_model})
    db = Database(settings)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, args.campaign)
        if campaign is None:
            raise SystemExit(f"no campaign {args.campaign!r} in {settings.data_path}")
        neurons = session.exec(
            select(Neuron)
            .where(Neuron.campaign_id == campaign.id)
            .order_by(col(Neuron.index))
            .limit(args.limit)
        ).all()
        data = [(n.index, *campaigns.neuron_records(session, int(n.id or 0))) for n in neurons]
    explainer = make_explainer(settings, args.explainer)
    simulator = make_simulator(settings)
    print(f"{len(data)} neurons, explainer {explainer.version}, simulator {simulator.version}")
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    previous: list[str] = []
    for index, top, rnd in data:
        texts = explainer.explain(top, args.k, max_chars=settings.max_explanation_chars)
        records = select_records(top, rnd, limit=RECORDS_PER_KIND)
        results = score_explanations(simulator, texts + previous, records) if texts + previous else []
        scores = [r.score for r in results]
        row = {
            "neuron": index,
            "candidates": dict(zip(texts, scores[: len(texts)], strict=True)),
            "control": scores[len(texts) :],
        }
        rows.append(row)
        best = max(row["candidates"].items(), key=lambda kv: kv[1], default=("(none)", float("nan")))
        print(f"{index:4d} {best[1]:+.3f}  {best[0][:90]}", flush=True)
        previous = texts
    elapsed = time.perf_counter() - started
    every = [s for row in rows for s in row["candidates"].values()]
    best = [max(row["candidates"].values()) for row in rows if row["candidates"]]
    control = [s for row in rows for s in row["control"]]
    print(f"\n{elapsed:.0f} s for {len(rows)} neurons ({elapsed / max(1, len(rows)):.1f} s per neuron)")
    print(f"neurons with at least one usable candidate: {len(best)} of {len(rows)}")
    for name, values in (("all candidates", every), ("best per neuron", best), ("control", control)):
        print(f"{name}: {quartiles(values)}\n{histogram(values)}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
