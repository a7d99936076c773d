"""`neuronquest leaderboard rebuild|show`: rebuild every board from SQL, or print one board."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from config.settings import Settings
from server.cli.main import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("leaderboard", help="leaderboards: rebuild from SQL, show a board")
    sub = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild = sub.add_parser("rebuild", help="rebuild every board from the stored point events")
    rebuild.set_defaults(func=cmd_rebuild)
    show = sub.add_parser("show", help="print the top of one board")
    show.add_argument("board", nargs="?", default="points", help="board id, e.g. points, teams, country:FR")
    show.add_argument("--period", default="all", help="all, daily, weekly, monthly or an id (d:2026-11-21)")
    show.add_argument("--limit", type=int, default=20)
    show.set_defaults(func=cmd_show)


def _clients(settings: Settings):  # type: ignore[no-untyped-def]
    import redis

    from server.cli.runtime import with_redis
    from store.db import Database

    try:
        settings = with_redis(settings)
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc
    return settings, Database(settings), redis.Redis.from_url(settings.redis_url)


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from store.competition.boards_rebuild import rebuild_all

    settings, db, r = _clients(settings)
    with db.session() as session:
        count = rebuild_all(r, session, datetime.now(UTC), settings)
    print(f"rebuilt {count} leaderboards from SQL")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from rooms.boards import BoardError, resolve_period, spec_of
    from store.competition import leaderboards

    if not 1 <= args.limit <= settings.leaderboard_page_max:
        raise CliError(f"--limit must be between 1 and {settings.leaderboard_page_max}")
    settings, _db, r = _clients(settings)
    try:
        period = resolve_period(spec_of(args.board), args.period, datetime.now(UTC))
        page = leaderboards.top(r, args.board, period, args.limit)
    except BoardError as exc:
        raise CliError(str(exc)) from exc
    print(f"{args.board} ({period})")
    for entry in page.entries:
        print(f"{entry.rank:>5}  {entry.id:>8}  {entry.score}")
    return 0
