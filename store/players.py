"""Players: guests and accounts (data access only; tokens and hashing live in server/api/sessions.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from store.models import Player, PointEvent, utcnow


class LoginTaken(Exception):
    pass


def create_guest(session: Session, name: str, country: str | None = None) -> Player:
    player = Player(name=name, country=country, is_guest=True)
    session.add(player)
    session.commit()
    return player


def create_guests(session: Session, names: list[str], *, commit: bool = True) -> list[Player]:
    """Several guests in one transaction: a join storm commits once per batch, not per player.
    ``commit=False`` leaves the commit to a caller that adds more to the same transaction.
    The players handed back are detached, with every column set as the row has it."""
    now = utcnow()
    ids = insert_guests(session, names, now)
    players = [
        Player(id=i, name=name, is_guest=True, created_at=now) for i, name in zip(ids, names, strict=True)
    ]
    if commit:
        session.commit()
    return players


def insert_guests(session: Session, names: list[str], now: datetime) -> list[int]:
    """The new guests' ids, in the order of ``names``: one multi-row INSERT ... RETURNING id on
    the session's connection, no ORM objects. The ORM's unit of work, and then building a Player
    per row (SQLModel's attribute lookups), were most of a connect storm's guest cost (py-spy,
    issue 19); the join storm's guests go through ``guest_public`` instead."""
    rows = [{"name": name, "is_guest": True, "created_at": now} for name in names]
    query = insert(Player).returning(Player.id, sort_by_parameter_order=True)  # type: ignore[arg-type]
    return [int(i) for i in session.connection().execute(query, rows).scalars().all()]


def guest_public(player_id: int, name: str, points: int | None = None) -> dict[str, object]:
    """``public`` of a new guest, without a Player object (what insert_guests stored)."""
    data: dict[str, object] = {"id": player_id, "name": name, "country": None, "guest": True, "login": None}
    if points is not None:
        data["points"] = points
    return data


def get_player(session: Session, player_id: int) -> Player | None:
    return session.get(Player, player_id)


def find_by_login(session: Session, login: str) -> Player | None:
    return session.exec(select(Player).where(Player.login == login)).first()


def rename(session: Session, player_id: int, name: str, country: str | None = None) -> Player | None:
    player = session.get(Player, player_id)
    if player is None:
        return None
    player.name = name
    if country is not None:
        player.country = country
    session.add(player)
    session.commit()
    return player


def make_account(session: Session, player_id: int, login: str, password_hash: str) -> Player | None:
    """Turn a guest into an account, keeping its id and so its points. Raises LoginTaken."""
    player = session.get(Player, player_id)
    if player is None:
        return None
    player.login, player.password_hash, player.is_guest = login, password_hash, False
    session.add(player)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise LoginTaken(login) from exc
    return player


def total_points(session: Session, player_id: int) -> int:
    total = session.exec(
        select(func.coalesce(func.sum(PointEvent.amount), 0)).where(PointEvent.player_id == player_id)
    )
    return int(total.one())


def public(player: Player, points: int | None = None) -> dict[str, object]:
    """The player as the wire protocol shows it."""
    data: dict[str, object] = {
        "id": player.id,
        "name": player.name,
        "country": player.country,
        "guest": player.is_guest,
        "login": player.login,
    }
    if points is not None:
        data["points"] = points
    return data
