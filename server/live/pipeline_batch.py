"""Concurrent callers' Redis commands sent together: one pipeline per batch, not one each.

A storm of 10,000 sockets joining (or closing) ran one pipeline per join: each took a pooled
connection, sent its few commands in a write of its own and parsed its replies in a read of
its own, through redis-py's per-pipeline machinery (the pool's condition and timeout, the
pipeline's reset and shield): about a tenth of the web process's time in the connect storm
(py-spy, issue 19), and the close storm's 10,000 leaves ran the 200-connection pool dry under
a slowed loop. Here a caller waits only for the batch in flight: whoever queues meanwhile goes
into the next one, as new guests do (server/hub/guests.py). A lone caller is not delayed.

Each caller's commands stay together and in their order inside the batch (a join's script
and the reads that must see it), as in a pipeline of its own; commands of different callers
were never ordered against each other (several pipelines on several connections). The
pipeline is not a transaction (``transaction=False``): one caller's failing command fails that
caller only; a batch that cannot be sent fails every caller in it, as each would alone.

Not for a Redis Cluster client: its pipelines run no scripts (callers check ``sharded``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

# Commands of at most this many callers in one pipeline (a join is five commands).
BATCH_MAX = 200

Queue = Callable[[Any], None]


class PipelineBatcher:
    def __init__(self, r: Any, batch_max: int = BATCH_MAX) -> None:
        self.r, self.batch_max = r, batch_max
        self._waiting: list[tuple[Queue, asyncio.Future[list[Any]]]] = []
        self._running: asyncio.Task[None] | None = None
        self.batches = 0  # pipelines sent (the tests count them)

    async def run(self, queue: Queue) -> list[Any]:
        """The replies of the commands ``queue`` puts on a pipeline, in their order; a failed
        command's reply is its exception (``raise_on_error=False``), for the caller to judge."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._waiting.append((queue, future))
        if self._running is None:
            self._running = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.batch_max], self._waiting[self.batch_max :]
                # A caller cancelled before its batch was sent (its socket's task stopped): its
                # commands are not sent, as its own pipeline would not have been.
                batch = [(queue, future) for queue, future in batch if not future.done()]
                if batch:
                    await self._send(batch)
        finally:
            self._running = None
            for _, future in self._waiting:  # only when this task was cancelled (shutdown)
                future.cancel()
            self._waiting = []

    async def _send(self, batch: list[tuple[Queue, asyncio.Future[list[Any]]]]) -> None:
        spans: list[tuple[int, int]] = []
        try:
            async with self.r.pipeline(transaction=False) as pipe:
                for queue, _ in batch:
                    start = len(pipe.command_stack)
                    queue(pipe)
                    spans.append((start, len(pipe.command_stack)))
                self.batches += 1
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # not sent or not answered: every caller fails as it would alone
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), (start, end) in zip(batch, spans, strict=True):
            if not future.done():
                future.set_result(replies[start:end])
