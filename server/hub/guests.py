"""New guest players, created in batches while a storm of sockets connects.

Each new socket without a token is a new guest row. One commit per guest serialised a
10,000-socket connect on the database (SQLite's single writer; a commit's flush in any
database): most of the time of issue 19's connect, 6.6x the bare server's. Here they are
batched as server/live/in_flight.py batches, one transaction a batch: a lone guest is not
delayed and a storm commits a few times a second instead of thousands. Each guest's session
record (server/api/sessions.py) is opened in the same batch.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from config.settings import Settings
from server.api.sessions import guest_name, token_of
from server.live.in_flight import InFlightBatcher
from store.auth_sessions import open_sessions
from store.db import Database
from store.models import utcnow
from store.players import guest_public, insert_guests

BATCH_MAX = 200


class GuestBatcher(InFlightBatcher[None, tuple[dict[str, Any], str]]):
    def __init__(self, db: Database, settings: Settings, batch_max: int = BATCH_MAX) -> None:
        super().__init__(batch_max)
        self.db, self.settings = db, settings

    async def new_guest(self) -> tuple[dict[str, Any], str]:
        """A new guest's public record (points 0) and the token of its new session."""
        return await self.submit(None)

    async def _handle(self, requests: list[None]) -> list[tuple[dict[str, Any], str]]:
        return await run_in_threadpool(self._insert, len(requests))

    def _insert(self, count: int) -> list[tuple[dict[str, Any], str]]:
        with self.db.session() as s:
            # Guests and their sessions in one commit per batch.
            names = [guest_name() for _ in range(count)]
            ids = insert_guests(s, names, utcnow())
            records = open_sessions(s, ids, self.settings.session_ttl_s)  # commits both
            made = zip(ids, names, records, strict=True)
            return [(guest_public(i, name, 0), token_of(self.settings, r)) for i, name, r in made]
