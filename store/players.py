"""Players: guests and accounts (data access only; tokens and hashing live in server/api/sessions.py)."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from store.models import Player, PointEvent


class LoginTaken(Exception):
    pass


def create_guest(session: Session, name: str, country: str | None = None) -> Player:
    player = Player(name=name, country=country, is_guest=True)
    session.add(player)
    session.commit()
    return player


def create_guests(session: Session, names: list[str], *, commit: bool = True) -> list[Player]:
    """Several guests in one transaction: a join storm commits once per batch, not per player.
    ``commit=False`` only flushes (ids assigned), for a caller that adds more to the same commit."""
    players = [Player(name=name, is_guest=True) for name in names]
    session.add_all(players)
    if not commit:
        session.flush()
        return players
    session.commit()
    for player in players:
        session.refresh(player)
    return players


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
