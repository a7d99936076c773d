"""New guest players, created in batches while a storm of sockets connects.

Each new socket without a token is a new guest row. One commit per guest serialised a
10,000-socket connect on the database (SQLite's single writer; a commit's flush in any
database): most of the time of issue 19's connect, 6.6x the bare server's. Here a request
waits only for the batch in flight: whoever arrives while one batch is inserted goes into the
next, one transaction each, so a lone guest is not delayed and a storm commits a few times a
second instead of thousands. Each guest's session record (server/api/sessions.py) is opened in
the same batch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool

from config.settings import Settings
from server.api.sessions import guest_name, token_of
from store.auth_sessions import open_sessions
from store.db import Database
from store.models import utcnow
from store.players import guest_public, insert_guests

BATCH_MAX = 200


class GuestBatcher:
    def __init__(self, db: Database, settings: Settings, batch_max: int = BATCH_MAX) -> None:
        self.db, self.settings, self.batch_max = db, settings, batch_max
        self._waiting: list[asyncio.Future[tuple[dict[str, Any], str]]] = []
        self._running: asyncio.Task[None] | None = None

    async def new_guest(self) -> tuple[dict[str, Any], str]:
        """A new guest's public record (points 0) and the token of its new session."""
        future: asyncio.Future[tuple[dict[str, Any], str]] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        if self._running is None:
            self._running = asyncio.get_running_loop().create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.batch_max], self._waiting[self.batch_max :]
                try:
                    players = await run_in_threadpool(self._insert, len(batch))
                except Exception as exc:  # every waiter of this batch fails as it would alone
                    for future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for future, player in zip(batch, players, strict=True):
                    if not future.done():
                        future.set_result(player)
        finally:
            self._running = None

    def _insert(self, count: int) -> list[tuple[dict[str, Any], str]]:
        with self.db.session() as s:
            # Guests and their sessions in one commit per batch.
            names = [guest_name() for _ in range(count)]
            ids = insert_guests(s, names, utcnow())
            records = open_sessions(s, ids, self.settings.session_ttl_s)  # commits both
            made = zip(ids, names, records, strict=True)
            return [(guest_public(i, name, 0), token_of(self.settings, r)) for i, name, r in made]
