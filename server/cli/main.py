"""The ``neuronquest`` command: one entry point for every role and tool.

Each command group lives in its own module in ``server/cli/`` and exposes
``register(subparsers)``; each registered parser sets ``func(args, settings) -> int``.
Usage errors print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from config.settings import Settings, get_settings

COMMAND_MODULES = [
    "server.cli.run",  # up, web, worker, scheduler
    "server.cli.models",  # activations, campaign build/list, models pull/list
    "server.cli.score",  # score explanations with a simulator
    "server.cli.explain",  # machine explanations of a neuron
    "server.cli.simulator",  # train / evaluate the trained simulator
    "server.cli.export",  # export/import a campaign as open data
    "server.cli.apikeys",  # API keys for the public read API
    "server.cli.leaderboard",  # leaderboard rebuild/show
    "server.cli.sae",  # train / show sparse autoencoders
]


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuronquest", description="Explain what neurons do — together.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args, settings or get_settings()) or 0)
    except CliError as exc:
        print(f"neuronquest {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
