"""`neuronquest simulator`: train the `trained` simulator's head, and judge simulators on held-out neurons.

    neuronquest simulator train [--seed 0] [--epochs 3] [--members 3] [--out PATH] [--threads N]
                                [--cache PATH]
    neuronquest simulator evaluate [--split test|val|wide] [--simulator NAME ...] [--per-family K] [--json]

`train` rebuilds everything from scratch (synthetic neurons from the shipped corpus and
WordNet, the frozen MiniLM's outputs, the heads: an ensemble of ``--members``, each fitted
from its own seed on the same data), seeded; by default it overwrites the head file shipped
in the package. `evaluate` scores every chosen simulator on the same held-out synthetic
neurons (AUROC of the true explanation against the others, per family); `--split wide` is
validation widened by lexical classes and sense words no neuron uses (`trained/wide.py`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from config.settings import Settings
from engine.scoring import SIMULATORS, SimulatorError, make_simulator
from server.cli.main import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("simulator", help="train or evaluate the trained simulator")
    sub = p.add_subparsers(dest="simulator_command", required=True, metavar="ACTION")
    tr = sub.add_parser("train", help="build the trained simulator's head from scratch (seeded)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--epochs", type=int, default=3)
    tr.add_argument(
        "--members", type=int, default=3, help="heads in the ensemble (their predictions averaged)"
    )
    tr.add_argument("--out", type=Path, help="where to write the head (default: the shipped head.pt)")
    tr.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    tr.add_argument("--cache", type=Path, help="keep the encoder's outputs in this file between runs")
    tr.add_argument("--json", action="store_true", help="print the training report as JSON")
    tr.set_defaults(func=cmd_train)
    ev = sub.add_parser("evaluate", help="AUROC per family on held-out synthetic neurons")
    ev.add_argument("--split", choices=("test", "val", "wide"), default="test")
    ev.add_argument(
        "--simulator", action="append", choices=SIMULATORS, help="repeatable; default: trained, embedding"
    )
    ev.add_argument(
        "--per-family", type=int, metavar="K", help="at most K neurons per family (seeded sample)"
    )
    ev.add_argument("--seed", type=int, default=0, help="the data seed the head was trained with")
    ev.add_argument("--threads", type=int, default=1)
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_evaluate)


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    import torch

    from engine.scoring.trained.simulator import SHIPPED_HEAD
    from engine.scoring.trained.train import TrainConfig, train

    if args.epochs < 1 or args.threads < 1 or args.members < 1:
        raise CliError("--epochs, --members and --threads must be at least 1")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out = args.out or SHIPPED_HEAD
    config = TrainConfig(seed=args.seed, epochs=args.epochs, cache=args.cache, members=args.members)
    report = train(config, out, progress=_say)
    report["meta"]["wall_seconds"] = round(time.perf_counter() - started)
    if args.json:
        print(json.dumps({"meta": report["meta"], "history": report["history"]}, indent=2))
    else:
        print(f"done in {report['meta']['wall_seconds']} s: {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    import torch

    from engine.scoring.trained.dataset import build
    from engine.scoring.trained.evaluate import cases, evaluate
    from engine.scoring.trained.wide import widen

    torch.set_num_threads(args.threads)
    data = build(args.seed)
    if args.split == "wide":
        data = widen(data, args.seed)
    items = cases(data, args.split, args.seed, args.per_family)
    results = []
    for name in args.simulator or ["trained", "embedding"]:
        try:
            sim = make_simulator(settings, name)
        except SimulatorError as exc:
            raise CliError(str(exc)) from exc
        results.append(evaluate(sim, data, items))
        if not args.json:
            _print(results[-1])
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def _say(line: str) -> None:
    print(line, flush=True)


def _print(result: dict) -> None:  # type: ignore[type-arg]
    families = "  ".join(f"{f} {v['auroc']:.3f}" for f, v in result["families"].items())
    sense = result["vs_other_sense"]
    print(
        f"{result['simulator']} ({result['version']}), {result['neurons']} neurons: {families}  "
        f"vs-other-sense {sense if sense is None else f'{sense:.3f}'}  mean {result['mean_auroc']:.3f}  "
        f"{result['ms_per_pair']:.2f} ms/pair",
        flush=True,
    )
