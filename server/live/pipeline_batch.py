"""Concurrent callers' Redis commands sent together: one pipeline per batch, not one each.

A storm of 10,000 sockets joining (or closing) ran one pipeline per join: each took a pooled
connection, sent its few commands in a write of its own and parsed its replies in a read of
its own, through redis-py's per-pipeline machinery (the pool's condition and timeout, the
pipeline's reset and shield): about a tenth of the web process's time in the connect storm
(py-spy, issue 19), and the close storm's 10,000 leaves ran the 200-connection pool dry under
a slowed loop. Here the joins and leaves are batched as server/live/in_flight.py batches:
whoever queues while one pipeline is in flight goes into the next; a lone caller is not delayed.

Each caller's commands stay together and in their order inside the batch (a join's script
and the reads that must see it), as in a pipeline of its own; commands of different callers
were never ordered against each other (several pipelines on several connections). The
pipeline is not a transaction (``transaction=False``): one caller's failing command fails that
caller only.

Not for a Redis Cluster client: its pipelines run no scripts (callers check ``sharded``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.live.in_flight import InFlightBatcher

# Commands of at most this many callers in one pipeline (a join is five commands).
BATCH_MAX = 200

Queue = Callable[[Any], None]


class PipelineBatcher(InFlightBatcher[Queue, list[Any]]):
    def __init__(self, r: Any, batch_max: int = BATCH_MAX) -> None:
        super().__init__(batch_max)
        self.r = r
        self.batches = 0  # pipelines sent (the tests count them)

    async def run(self, queue: Queue) -> list[Any]:
        """The replies of the commands ``queue`` puts on a pipeline, in their order; a failed
        command's reply is its exception (``raise_on_error=False``), for the caller to judge."""
        return await self.submit(queue)

    async def _handle(self, queues: list[Queue]) -> list[list[Any]]:
        spans: list[tuple[int, int]] = []
        async with self.r.pipeline(transaction=False) as pipe:
            for queue in queues:
                start = len(pipe.command_stack)
                queue(pipe)
                spans.append((start, len(pipe.command_stack)))
            self.batches += 1
            replies = await pipe.execute(raise_on_error=False)
        return [replies[start:end] for start, end in spans]
