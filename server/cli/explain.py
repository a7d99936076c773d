"""`neuronquest explain`: K candidate explanations of a neuron, written by a language model.

    neuronquest explain --neuron CAMPAIGN:INDEX [--n K] [--explainer llm|openai] [--model NAME]
                        [--score] [--simulator NAME] [--json]
    neuronquest explain --records PATH ...

The explainer prompt shows the neuron's top records (see engine/scoring/explain_prompt.py);
the local LM (default smollm2-135m, Settings.explainer_model) samples K completions, or
the OpenAI-compatible endpoint in Settings answers them. ``--score`` scores every candidate
with the simulator on the top + random records, best first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from config.settings import Settings
from engine.scoring import SIMULATORS, SimulatorError, make_simulator, score_explanations
from engine.scoring.explainer import EXPLAINERS, ExplainerError, make_explainer
from server.cli.main import CliError
from server.cli.score import neuron_records, read_records

MAX_K = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain", help="write candidate explanations of a neuron with a language model"
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--neuron", metavar="CAMPAIGN:INDEX", help="a stored neuron's top records")
    source.add_argument("--records", type=Path, metavar="PATH", help='JSON list of {"tokens", "activations"}')
    p.add_argument(
        "--n", type=int, default=3, metavar="K", help=f"candidates to write (1..{MAX_K}, default 3)"
    )
    p.add_argument("--explainer", choices=EXPLAINERS, help="default: Settings.explainer")
    p.add_argument(
        "--model",
        help="local causal LM name or directory (implies --explainer llm; default: Settings.explainer_model)",
    )
    p.add_argument("--score", action="store_true", help="score the candidates with the simulator")
    p.add_argument("--simulator", choices=SIMULATORS, help="with --score; default: Settings.simulator")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_explain)


def cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.n <= MAX_K:
        raise CliError(f"--n must be between 1 and {MAX_K}, not {args.n}")
    records = read_records(args.records) if args.records else neuron_records(settings, args.neuron)
    # Records from a file carry no kind: then all of them are the ones to explain.
    top = [r for r in records if r.kind in ("top", "")]
    explainer_name = args.explainer
    if args.model:
        settings = settings.model_copy(update={"explainer_model": args.model})
        # Naming a model means a local LM should write, whatever the configured default.
        explainer_name = explainer_name or "llm"
    try:
        explainer = make_explainer(settings, explainer_name)
        texts = explainer.explain(top, args.n, max_chars=settings.max_explanation_chars)
    except ExplainerError as exc:
        raise CliError(str(exc)) from exc
    except ValueError as exc:  # no active records
        raise CliError(str(exc)) from exc
    if not texts:
        raise CliError("the explainer wrote nothing usable; try again or another model")
    rows: list[dict[str, Any]] = [{"explanation": t} for t in texts]
    if args.score:
        try:
            simulator = make_simulator(settings, args.simulator)
            results = score_explanations(simulator, texts, records)
        except SimulatorError as exc:
            raise CliError(str(exc)) from exc
        for row, result in zip(rows, results, strict=True):
            row.update(score=result.score, simulator=result.simulator, version=result.version)
        rows.sort(key=lambda row: -row["score"])
    if args.json:
        print(json.dumps({"explainer": explainer.name, "version": explainer.version, "candidates": rows}))
        return 0
    print(f"explainer {explainer.name} {explainer.version}, {len(top)} top records")
    for row in rows:
        score = f"{row['score']:+.3f}  " if "score" in row else ""
        print(f"{score}{row['explanation']}")
    return 0
