"""The audience's votes written to SQL many to a commit (server/live/in_flight.py's batching)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from server.live.in_flight import InFlightBatcher
from store.audience_votes import Pair, store_audience_votes
from store.db import Database

VOTE_BATCH_MAX = 500  # votes a transaction at most (a few ms of SQL)


class AudienceVoteWriter(InFlightBatcher[Pair, bool]):
    """Votes that arrive while a batch commits go together into the next one (a lone vote is
    not delayed): one commit per batch instead of one per vote, which serialised a room's
    whole audience on the database's writer."""

    def __init__(self, db: Database, batch_max: int = VOTE_BATCH_MAX) -> None:
        super().__init__(batch_max)
        self.db = db

    async def _handle(self, requests: list[Pair]) -> list[bool]:
        return await run_in_threadpool(store_audience_votes, self.db, requests)
