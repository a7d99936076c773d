"""Requests of concurrent callers handled in batches, one batch in flight at a time.

A caller waits only for the batch in flight: whoever arrives meanwhile goes into the next one,
so a lone caller is not delayed and a storm (10,000 sockets connecting, issue 19) costs a few
batches a second instead of one round trip, commit or pipeline per caller. New guests
(server/hub/guests.py), the joins and leaves of rooms (server/live/pipeline_batch.py) and the
audience's votes (server/live/audience_votes.py) are batched this way.

A batch that fails fails every caller in it, as each would have failed alone; a caller
cancelled before its batch starts (its socket's task stopped) is left out of it.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")


class InFlightBatcher(Generic[Request, Result]):
    """Subclasses say how one batch is handled: ``_handle`` returns a result per request."""

    def __init__(self, batch_max: int) -> None:
        self.batch_max = batch_max
        self._waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((request, future))
        if self._running is None:
            self._running = loop.create_task(self._run())
        return await future

    async def _handle(self, requests: list[Request]) -> list[Result]:
        raise NotImplementedError

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.batch_max], self._waiting[self.batch_max :]
                batch = [(request, future) for request, future in batch if not future.done()]
                if batch:
                    await self._settle(batch)
        finally:
            self._running = None
            for _, future in self._waiting:  # only when this task was cancelled (shutdown)
                future.cancel()
            self._waiting = []

    async def _settle(self, batch: list[tuple[Request, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._handle([request for request, _ in batch])
        except Exception as exc:  # every caller of this batch fails as it would alone
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
