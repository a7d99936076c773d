"""Validation of the simulators on planted neurons, with speed, against a per-word baseline.

    .venv/bin/python -m tests.bench.bench_scoring [--llm NAME_OR_PATH] [--data-dir DIR]
                                                  [--subset K | --neurons A,B] [--threads T]
                                                  [--llm-only] [--all-at-once]

For each simulator: ROC AUC of "the true explanation scores above a wrong one",
lexical and contextual separately (contextual also against the other sense alone),
and the time per explanation x record. The baseline, measured in the same run, is
the embedding simulator reduced to per-word lookup (no context), the thing the
contextual part has to beat. `pytest tests/bench/bench_scoring.py -s` runs it too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

import engine.scoring.embedding as embedding_module
from engine.scoring.embedding import EmbeddingSimulator
from engine.scoring.planted import NEURONS, PlantedNeuron
from engine.scoring.simulator import Simulator
from engine.scoring.validation import validate


class PerWordBaseline(EmbeddingSimulator):
    """The embedding simulator with the context part switched off."""

    name = "embedding-per-word"

    def predict_batch(self, explanations, records):  # type: ignore[no-untyped-def]
        saved = embedding_module.CONTEXT_WEIGHT, embedding_module.WORD_WEIGHT, embedding_module.FLOOR
        embedding_module.CONTEXT_WEIGHT, embedding_module.WORD_WEIGHT, embedding_module.FLOOR = 0.0, 1.0, 0.1
        try:
            return super().predict_batch(explanations, records)
        finally:
            embedding_module.CONTEXT_WEIGHT, embedding_module.WORD_WEIGHT, embedding_module.FLOOR = saved


def subset(k: int | None, names: str | None = None) -> list[PlantedNeuron]:
    """The first k lexical and the first k contextual neurons, or the named ones (all with None)."""
    if names:
        wanted = names.split(",")
        unknown = set(wanted) - {n.name for n in NEURONS}
        if unknown:
            raise SystemExit(f"unknown planted neurons: {', '.join(sorted(unknown))}")
        return [n for n in NEURONS if n.name in wanted]
    if k is None:
        return list(NEURONS)
    lexical = [n for n in NEURONS if n.kind == "lexical"][:k]
    return lexical + [n for n in NEURONS if n.kind == "contextual"][:k]


def measure(sim: Simulator, neurons: list[PlantedNeuron]) -> dict[str, Any]:
    pairs = 0
    for neuron in neurons:
        top, rnd = neuron.records()
        pairs += (len(top) + min(len(top), len(rnd))) * (len({n.explanation for n in neurons}) + 1)
    start = time.perf_counter()
    report = validate(sim, neurons)
    report["seconds"] = time.perf_counter() - start
    report["ms_per_pair"] = 1000 * report["seconds"] / pairs
    return report


def _auc(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"  # None: no neuron of that kind was run


def line(report: dict[str, Any], baseline: dict[str, Any]) -> str:
    ratio = report["ms_per_pair"] / baseline["ms_per_pair"]
    return (
        f"{report['simulator']:<20} {report['version']:<28} lexical {_auc(report['lexical_auc'])}  "
        f"contextual {_auc(report['contextual_auc'])}  "
        f"vs-other-sense {_auc(report['contextual_vs_other_sense'])}  "
        f"{report['ms_per_pair']:.1f} ms/pair ({ratio:.2f}x baseline)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llm", help="causal LM name or directory for llm-pointing (smollm2-135m)")
    parser.add_argument("--data-dir", type=Path, help="where models are cached")
    parser.add_argument(
        "--subset", type=int, metavar="K", help="only the first K lexical and K contextual neurons (faster)"
    )
    parser.add_argument("--neurons", help="only these planted neurons, by name (comma-separated)")
    parser.add_argument("--threads", type=int, help="torch threads (1 is steadier on a shared machine)")
    parser.add_argument(
        "--all-at-once",
        action="store_true",
        help="with --llm, also the llm simulator's all-at-once reading (slow: ~10x llm-pointing)",
    )
    parser.add_argument(
        "--llm-only", action="store_true", help="skip the embedding simulator (the baseline still runs)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    neurons = subset(args.subset, args.neurons)
    print(f"{len(neurons)} planted neurons, torch threads {torch.get_num_threads()}")
    baseline = measure(PerWordBaseline(), neurons)
    print(line(baseline, baseline), flush=True)  # each line as soon as it is known: runs can be long
    reports = [baseline]
    if not args.llm_only:
        reports.append(measure(EmbeddingSimulator(), neurons))
        print(line(reports[-1], baseline), flush=True)
    if args.llm:
        from engine.scoring.llm import LocalLMSimulator
        from engine.scoring.llm_pointing import PointingLMSimulator

        kinds = [PointingLMSimulator] + ([LocalLMSimulator] if args.all_at_once else [])
        for kind in kinds:
            llm = kind.load(args.llm, device="cpu", data_dir=args.data_dir)
            reports.append(measure(llm, neurons))
            print(line(reports[-1], baseline), flush=True)
    for report in reports[1:]:
        for row in report["neurons"]:
            extra = f" other-sense {row['confuser_score']:+.3f}" if "confuser_score" in row else ""
            print(
                f"  {report['simulator']:<10} {row['neuron']:<14} true {row['true_score']:+.3f} "
                f"best-wrong {row['best_wrong']:+.3f}{extra}"
            )


def test_bench_scoring() -> None:
    main([])


if __name__ == "__main__":
    main()
