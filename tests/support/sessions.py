"""Session tokens for tests that make players straight in the database (no HTTP round trip)."""

from __future__ import annotations

from config.settings import Settings
from server.api.sessions import issue_token
from store.db import Database


def token_for(settings: Settings, player_id: int) -> str:
    """A token of a new, open session of ``player_id`` (as login would hand out)."""
    db = Database(settings, run_migrations=False)
    try:
        with db.session() as s:
            return issue_token(s, settings, player_id)
    finally:
        db.dispose()
