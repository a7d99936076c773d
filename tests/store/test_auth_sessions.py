"""Session records: open, check, revoke, expire, purge (store/auth_sessions.py) on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from sqlmodel import select

from config.settings import Settings
from server.cli.scheduler import DEFAULT_TASKS, SchedulerContext
from store.auth_sessions import is_active, open_session, revoke, revoke_all
from store.db import Database
from store.models import AuthSession, Player


def test_sessions_open_revoke_expire_and_get_purged(
    db: Database, settings: Settings, redis_client: redis.Redis
) -> None:
    with db.session() as s:
        ada, bob = Player(name="Ada"), Player(name="Bob")
        s.add_all([ada, bob])
        s.commit()
        a1, a2 = open_session(s, ada.id or 0, 3600), open_session(s, ada.id or 0, 3600)
        b1 = open_session(s, bob.id or 0, 3600)
        assert a1.sid != a2.sid and all(is_active(s, r.sid, r.player_id) for r in (a1, a2, b1))
        assert not is_active(s, a1.sid, bob.id or 0)  # a record names one player
        revoke(s, a1.sid)
        assert not is_active(s, a1.sid, ada.id or 0) and is_active(s, a2.sid, ada.id or 0)
        revoke_all(s, ada.id or 0)
        assert not is_active(s, a2.sid, ada.id or 0) and is_active(s, b1.sid, bob.id or 0)
        old = s.get(AuthSession, b1.sid)
        assert old is not None
        old.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        s.add(old)
        s.commit()
        assert not is_active(s, b1.sid, bob.id or 0)
    [purge] = [run for name, _, run in DEFAULT_TASKS if name == "purge_sessions"]
    purge(SchedulerContext(settings, db, redis_client), datetime.now(UTC))
    with db.session() as s:
        assert sorted(r.sid for r in s.exec(select(AuthSession))) == sorted([a1.sid, a2.sid])
