"""What a stored score settles, run by the worker that stored it (workers/scoring.py).

Points used to be settled only by web processes: quest credit by one that held a socket in the
room when the score's event passed, a late score's ``beat_best`` by nobody. Here, right after a
score is stored — or found already stored, when a retried job answers again — the worker
settles both (store/settlement.py, store/quest_credit.py). Every award is claimed in SQL, so a
retry, a second worker or the room settling at the same time stores it once; the room hears of
a late award once (``append_once``), the author of a quest credit on their own channel.
Only an explanation's first score settles anything: a rescore (new records, a new simulator
version) changes what the reference shows, not what was earned.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from config import keys
from config.settings import Settings
from store import eventlog
from store.db import Database
from store.quest_credit import credit_and_tell
from store.settlement import first_score, settle_score

# How long a room remembers that it was told a late award (longer than any retry takes).
TOLD_TTL_S = 86_400


def settle_stored_score(
    db: Database,
    r: redis.Redis,
    settings: Settings,
    explanation_id: int,
    now: datetime | None = None,
    rooms_r: redis.Redis | None = None,
) -> None:
    """``rooms_r``: where rooms' logs live (WorkerContext.rooms_redis; ``r`` when not given)."""
    if not first_score(db, explanation_id):
        return  # a rescore (new records or simulator): its round and quests settled the first one
    now = now or datetime.now(UTC)
    late = settle_score(db, r, settings, explanation_id, now)
    if late is not None and late.awards:
        told = keys.late_points_told(late.room_id, ",".join(sorted(a.claim or "" for a in late.awards)))
        room_r = rooms_r if rooms_r is not None else r
        history = settings.room_history
        eventlog.append_once(room_r, late.room_id, late.event(), told, TOLD_TTL_S, history=history)
    credit_and_tell(db, r, settings, explanation_id, now)
