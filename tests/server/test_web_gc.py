"""The web process's garbage collector (server/cli/run.py ``settle_garbage_collector``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from server.cli.run import YOUNG_GC_THRESHOLD, settle_garbage_collector


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_start_up_is_frozen_and_young_passes_come_less_often(restored_gc: None) -> None:
    _, middle, old = gc.get_threshold()
    settle_garbage_collector()
    assert gc.get_freeze_count() > 0  # start-up's objects are in no later pass
    assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, middle, old)  # the older generations' as they were
    # A burst of short-lived containers, like a connect storm's joins in flight, no longer
    # starts a young pass every 700 of them (each pass promoted what was in flight).
    gc.collect()
    held = [[] for _ in range(YOUNG_GC_THRESHOLD // 2)]
    assert gc.get_count()[0] >= len(held)
