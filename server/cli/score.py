"""`neuronquest score`: score explanations against records from a file or a stored neuron.

    neuronquest score --records PATH --explanation TEXT [--explanation TEXT ...] [--simulator NAME] [--json]
    neuronquest score --neuron CAMPAIGN:INDEX --explanation TEXT ...

PATH is a JSON list of {"tokens": [...], "activations": [...]} (an optional "kind",
"top" or "random", enables the detection metrics). The simulator's model is loaded
once for all explanations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from config.settings import Settings
from engine.records import ActivationRecord
from engine.scoring import SIMULATORS, SimulatorError, make_simulator, score_explanations, select_records
from server.cli.main import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("score", help="score explanations of a neuron with a simulator")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--records", type=Path, metavar="PATH", help='JSON list of {"tokens", "activations"}')
    source.add_argument("--neuron", metavar="CAMPAIGN:INDEX", help="a stored neuron's top and random records")
    p.add_argument("--explanation", action="append", required=True, metavar="TEXT", help="repeatable")
    p.add_argument("--simulator", choices=SIMULATORS, help="default: Settings.simulator")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--detail", action="store_true", help="with --json: add detection metrics and worst misses"
    )
    p.set_defaults(func=cmd_score)


def read_records(path: Path) -> list[ActivationRecord]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise CliError(f"no such records file: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list) or not data:
        raise CliError(f'{path} must hold a non-empty JSON list of {{"tokens": [...], "activations": [...]}}')
    records = []
    for i, item in enumerate(data):
        try:
            record = ActivationRecord.from_json(item)
            if not record.tokens:
                raise ValueError("a record has no tokens")
        except (ValueError, TypeError) as exc:
            raise CliError(f"{path}: record {i}: {exc}") from exc
        if record.kind not in ("", "top", "random"):
            raise CliError(f'{path}: record {i}: kind must be "top" or "random", not {record.kind!r}')
        records.append(record)
    return records


def neuron_records(settings: Settings, spec: str) -> list[ActivationRecord]:
    campaign, sep, index = spec.rpartition(":")
    if not sep or not campaign or not index.isdigit():
        raise CliError(f"--neuron takes CAMPAIGN:INDEX (e.g. minilm-l6-layer3:42), not {spec!r}")
    from store import campaigns
    from store.db import Database

    db = Database(settings)
    try:
        with db.session() as session:
            neuron = campaigns.get_neuron(session, campaign, int(index))
            if neuron is None or neuron.id is None:
                raise CliError(f"no neuron {index} in campaign {campaign!r}")
            top, rnd = campaigns.neuron_records(session, neuron.id)
    finally:
        db.dispose()
    records = select_records(top, rnd)
    if not records:
        raise CliError(f"neuron {spec} has no records yet")
    return records


def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    explanations = [e.strip() for e in args.explanation]
    if any(not e for e in explanations):
        raise CliError("an --explanation is empty")
    records = read_records(args.records) if args.records else neuron_records(settings, args.neuron)
    try:
        simulator = make_simulator(settings, args.simulator)
        results = score_explanations(simulator, explanations, records)
    except SimulatorError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        rows: list[dict[str, Any]] = []
        for result in results:
            row = {k: v for k, v in result.to_json().items() if k != "detail"}
            if args.detail:
                row["detail"] = result.detail
            rows.append(row)
        print(json.dumps(rows[0] if len(rows) == 1 else rows))
        return 0
    print(f"simulator {results[0].simulator} {results[0].version}, {len(records)} records")
    for explanation, result in zip(explanations, results, strict=True):
        auc = result.detail["detection"]["roc_auc"]
        detection = "" if auc is None else f"  detection AUC {auc:.2f}"
        print(f"{result.score:+.3f}{detection}  {explanation}")
    return 0
