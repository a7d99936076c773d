"""Every leaderboard, defined in one place (Nakama's model mapped to Redis sorted sets).

A board has an id pattern, a sort order, an operator and the periods it is kept for:

* operator ``incr`` adds each point event's amount; ``best`` keeps the best value ever sent;
  ``set`` keeps the value of the latest event (latest by its tie-break, so order-independent).
* order ``desc``: more is better (points); ``asc``: less is better (e.g. a fastest time).
* periods: ``all`` (one key forever) and ``daily``/``weekly``/``monthly`` (one key per UTC
  period, e.g. ``d:2026-11-21``, ``w:2026-W47``, ``m:2026-11``) that expires after the period
  ends plus ``Settings.leaderboard_grace_s``. A room's board expires
  ``Settings.leaderboard_room_ttl_s`` after its last point.

Which boards a point event lands on is decided here too (``boards_for_event``), so the live
path and the rebuild from SQL cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol


class BoardEvent(Protocol):
    """What a board needs of a stored point event (store.models.PointEvent has it)."""

    player_id: int
    created_at: datetime
    room_id: str | None
    quest_id: int | None


class BoardPlayer(Protocol):
    """What a board needs of a player (store.models.Player has it)."""

    id: int | None
    country: str | None
    region: str | None


Order = Literal["desc", "asc"]
Operator = Literal["incr", "best", "set"]
PERIOD_KINDS = ("all", "daily", "weekly", "monthly")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BoardSpec:
    kind: str  # the registry key; a board id is the kind, or "kind:<param>"
    title: str
    order: Order
    operator: Operator
    periods: tuple[str, ...]
    member: Literal["player", "team"]
    # Room boards live while the room is used, not for a calendar period.
    rolling_ttl: bool = False

    def board_id(self, param: str | int | None = None) -> str:
        return self.kind if param is None else f"{self.kind}:{param}"


BOARDS: dict[str, BoardSpec] = {
    spec.kind: spec
    for spec in (
        BoardSpec("points", "All players", "desc", "incr", PERIOD_KINDS, "player"),
        BoardSpec("country", "Players of a country", "desc", "incr", ("all", "weekly"), "player"),
        BoardSpec("region", "Players of a region", "desc", "incr", ("all",), "player"),
        BoardSpec("team", "Members of a team (points since joining)", "desc", "incr", ("all",), "player"),
        BoardSpec("teams", "Teams (their current members' points since joining)", "desc", "incr",
                  ("all", "weekly"), "team"),
        BoardSpec("room", "Players of a room", "desc", "incr", ("all",), "player", rolling_ttl=True),
        BoardSpec("quest", "Players of a side quest", "desc", "incr", ("all",), "player"),
    )
}  # fmt: skip


class BoardError(ValueError):
    """A board id or period that names no board: the API answers 404/400 with this reason."""


def spec_of(board_id: str) -> BoardSpec:
    kind, _, param = board_id.partition(":")
    spec = BOARDS.get(kind)
    if spec is None or (kind in ("points", "teams")) != (param == ""):
        raise BoardError(f"no board {board_id!r}")
    return spec


# -- time and periods ----------------------------------------------------------------
def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    # Integer arithmetic: float timestamps can round 0.999 ms down and break live == rebuild.
    return (as_utc(moment) - EPOCH) // timedelta(milliseconds=1)


def period_id(kind: str, moment: datetime) -> str:
    day = as_utc(moment).date()
    if kind == "all":
        return "all"
    if kind == "daily":
        return f"d:{day.isoformat()}"
    if kind == "weekly":
        year, week, _ = day.isocalendar()
        return f"w:{year}-W{week:02d}"
    if kind == "monthly":
        return f"m:{day.year}-{day.month:02d}"
    raise BoardError(f"no period kind {kind!r}")


def period_bounds(period: str) -> tuple[datetime, datetime] | None:
    """[start, end) of a calendar period id; None for ``all``. Raises BoardError if malformed."""
    if period == "all":
        return None
    try:
        tag, value = period.split(":", 1)
        if tag == "d":
            start = date.fromisoformat(value)
            end = start + timedelta(days=1)
        elif tag == "w":
            year, week = value.split("-W")
            start = date.fromisocalendar(int(year), int(week), 1)
            end = start + timedelta(days=7)
        elif tag == "m":
            year, month = (int(x) for x in value.split("-"))
            start = date(year, month, 1)
            end = date(year + month // 12, month % 12 + 1, 1)
        else:
            raise ValueError(tag)
    except ValueError as exc:
        raise BoardError(f"bad period {period!r}") from exc
    as_dt = lambda d: datetime(d.year, d.month, d.day, tzinfo=UTC)  # noqa: E731
    return as_dt(start), as_dt(end)


def resolve_period(spec: BoardSpec, period: str, now: datetime) -> str:
    """A period as the API accepts it: ``all``, a kind (``daily`` = the current one) or an id."""
    if period in PERIOD_KINDS:
        if period not in spec.periods:
            raise BoardError(f"board {spec.kind!r} has no {period} period")
        return period_id(period, now)
    bounds = period_bounds(period)
    kind = {"d": "daily", "w": "weekly", "m": "monthly"}[period[0]]
    if kind not in spec.periods or bounds is None:
        raise BoardError(f"board {spec.kind!r} has no {kind} period")
    return period


def expires_at(period: str, grace_s: int) -> int | None:
    """Unix seconds at which a period's key goes; None for boards kept forever."""
    bounds = period_bounds(period)
    if bounds is None:
        return None
    return int((bounds[1] - EPOCH).total_seconds()) + grace_s


# -- which boards an event lands on --------------------------------------------------
@dataclass(frozen=True)
class Placement:
    board: str  # board id
    period: str
    spec: BoardSpec
    member: int  # player id or team id
    expire_at: int | None  # unix seconds; None = kept


def boards_for_event(
    event: BoardEvent, player: BoardPlayer, team_id: int | None, *, grace_s: int, room_ttl_s: int
) -> list[Placement]:
    """Every (board, period) one point event counts on, for the live path and the rebuild alike."""
    when = event.created_at
    places: list[tuple[str, int]] = [("points", event.player_id)]
    if player.country:
        places.append((f"country:{player.country.upper()}", event.player_id))
    if player.region:
        places.append((f"region:{player.region}", event.player_id))
    if team_id is not None:
        places.append((f"team:{team_id}", event.player_id))
        places.append(("teams", team_id))
    if event.room_id:
        places.append((f"room:{event.room_id}", event.player_id))
    if event.quest_id is not None:
        places.append((f"quest:{event.quest_id}", event.player_id))
    out = []
    room_expiry = epoch_ms(when) // 1000 + room_ttl_s
    for board, member in places:
        spec = spec_of(board)
        for kind in spec.periods:
            period = period_id(kind, when)
            expiry = room_expiry if spec.rolling_ttl else expires_at(period, grace_s)
            out.append(Placement(board, period, spec, member, expiry))
    return out


def boards_of_player(
    player: BoardPlayer, team_id: int | None, quest_ids: list[int], now: datetime
) -> list[tuple[str, str, int]]:
    """(board, period, member id) of every current board a player can be on, for "my ranks"."""
    out: list[tuple[str, str, int]] = []
    pid = player.id or 0

    def add(board: str, member: int) -> None:
        out.extend((board, period_id(kind, now), member) for kind in spec_of(board).periods)

    add("points", pid)
    if player.country:
        add(f"country:{player.country.upper()}", pid)
    if player.region:
        add(f"region:{player.region}", pid)
    if team_id is not None:
        add(f"team:{team_id}", pid)
        add("teams", team_id)
    for quest_id in quest_ids:
        add(f"quest:{quest_id}", pid)
    return out
