"""`neuronquest apikey create|list|revoke`: keys for heavy use of the public read API."""

from __future__ import annotations

import argparse

from config.settings import Settings
from server.cli.main import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    apikey = subparsers.add_parser("apikey", help="manage API keys of the public read API")
    sub = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="make a key (its secret is printed once)")
    create.add_argument("name", help="who or what the key is for")
    create.add_argument(
        "--rate", type=float, help="requests per second (default: Settings.api_key_rate_per_s)"
    )
    create.add_argument("--burst", type=int, help="largest burst (default: Settings.api_key_burst)")
    create.set_defaults(func=cmd_create)
    sub.add_parser("list", help="list keys (prefixes only)").set_defaults(func=cmd_list)
    revoke = sub.add_parser("revoke", help="revoke the key(s) with this prefix")
    revoke.add_argument("prefix")
    revoke.set_defaults(func=cmd_revoke)


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from server.api.apikeys import create_key
    from store.db import Database

    rate = args.rate if args.rate is not None else settings.api_key_rate_per_s
    burst = args.burst if args.burst is not None else settings.api_key_burst
    db = Database(settings)
    try:
        with db.session() as session:
            row, secret = create_key(session, args.name, rate_per_s=rate, burst=burst)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    finally:
        db.dispose()
    print(f"created key {row.prefix}… for {row.name!r} ({row.rate_per_s:g}/s, burst {row.burst})")
    print(f"secret (shown once; send it as the X-API-Key header): {secret}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from server.api.apikeys import list_keys
    from store.db import Database

    db = Database(settings)
    try:
        with db.session() as session:
            for row in list_keys(session):
                state = "revoked" if row.revoked else "live"
                print(f"{row.prefix}…  {state:7}  {row.rate_per_s:g}/s burst {row.burst}  {row.name}")
    finally:
        db.dispose()
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from server.api.apikeys import revoke_key
    from store.db import Database

    db = Database(settings)
    try:
        with db.session() as session:
            count = revoke_key(session, args.prefix)
    finally:
        db.dispose()
    if not count:
        raise CliError(f"no live key with prefix {args.prefix!r} (see `neuronquest apikey list`)")
    print(f"revoked {count} key(s)")
    return 0
