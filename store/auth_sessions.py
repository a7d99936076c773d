"""Session records (store.models.AuthSession): opened at guest start, register and login;
checked on every authenticated request; revoked by logout and by register.

Data access only; tokens are signed and read in server/api/sessions.py.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import insert
from sqlmodel import Session, col, select, update

from store.models import AuthSession


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every value written here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def open_session(session: Session, player_id: int, ttl_s: int) -> AuthSession:
    """A new session record with a fresh random id (a rotation, never a reuse)."""
    now = _now()
    record = AuthSession(
        sid=secrets.token_urlsafe(24),
        player_id=player_id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(record)
    session.commit()
    return record


class Opened(NamedTuple):
    """What a token needs of a session record opened in a batch (no ORM object per row)."""

    sid: str
    player_id: int
    expires_at: datetime


def open_sessions(session: Session, player_ids: list[int], ttl_s: int) -> list[Opened]:
    """One new session per player in one commit (a storm of new guests: server/hub/guests.py):
    one multi-row INSERT on the session's connection, not the ORM's per-object flush (issue 19)."""
    now = _now()
    expires = now + timedelta(seconds=ttl_s)
    records = [Opened(secrets.token_urlsafe(24), pid, expires) for pid in player_ids]
    rows = [
        {"sid": r.sid, "player_id": r.player_id, "created_at": now, "expires_at": expires} for r in records
    ]
    session.connection().execute(insert(AuthSession), rows)
    session.commit()
    return records


def is_active(session: Session, sid: str, player_id: int) -> bool:
    record = session.get(AuthSession, sid)
    return (
        record is not None
        and record.player_id == player_id
        and not record.revoked
        and _aware(record.expires_at) > _now()
    )


def revoke(session: Session, sid: str) -> None:
    session.exec(update(AuthSession).where(col(AuthSession.sid) == sid).values(revoked=True))  # type: ignore[call-overload]
    session.commit()


def revoke_all(session: Session, player_id: int) -> None:
    """Every session of the player (register: the guest token stops working)."""
    session.exec(  # type: ignore[call-overload]
        update(AuthSession).where(col(AuthSession.player_id) == player_id).values(revoked=True)
    )
    session.commit()


def purge_expired(session: Session) -> int:
    """Delete records past their expiry (the scheduler may call it; nothing depends on it)."""
    rows = list(session.exec(select(AuthSession).where(col(AuthSession.expires_at) < _now())))
    for row in rows:
        session.delete(row)
    session.commit()
    return len(rows)
