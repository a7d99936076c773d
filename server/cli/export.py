"""`neuronquest export` and `neuronquest import`: one campaign as open data (docs/EXPORT.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import Settings
from server.cli.main import CliError
from store.export_schema import FORMATS, ExportError

if TYPE_CHECKING:
    from store.db import Database


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser("export", help="write one campaign as open data (jsonl or parquet)")
    export.add_argument("--campaign", required=True, help="campaign name")
    export.add_argument("--format", choices=FORMATS, default="jsonl")
    export.add_argument("--out", required=True, type=Path, help="directory to create (must be new or empty)")
    export.set_defaults(func=cmd_export)

    imp = subparsers.add_parser("import", help="load another instance's export (a directory) into this one")
    imp.add_argument("path", type=Path, help="the export directory")
    imp.set_defaults(func=cmd_import)


def _database(settings: Settings) -> Database:
    from store.db import Database

    return Database(settings)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from store.export import export_campaign

    db = _database(settings)
    try:
        with db.session() as session:
            manifest = export_campaign(session, args.campaign, args.format, args.out)
    except ExportError as exc:
        raise CliError(str(exc)) from exc
    finally:
        db.dispose()
    rows = ", ".join(f"{f['rows']} {f['table']}" for f in manifest["files"].values())
    print(f"exported {args.campaign!r} to {args.out} ({args.format}): {rows}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from store.export import import_campaign

    if not args.path.is_dir():
        raise CliError(f"{args.path} is not a directory (give the directory that `export --out` wrote)")
    db = _database(settings)
    try:
        with db.session() as session:
            counts = import_campaign(session, args.path)
    except ExportError as exc:
        raise CliError(f"{exc}; nothing was imported") from exc
    finally:
        db.dispose()
    print("imported " + ", ".join(f"{n} {table}" for table, n in counts.items()))
    return 0
