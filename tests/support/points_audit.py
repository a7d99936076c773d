"""The points audit: every room's announced points against the stored PointEvents.

A room announces each settlement as a ``points`` event in its log (the round's, and a late
score's from the worker). For every room in the log index and every room named by a stored
PointEvent, the multiset of announced awards must equal the multiset of stored rows of that
room (quest credit has no room: it is told privately). Returns what differs — points wrongly
awarded (stored, never announced) and lost (announced, never stored) — so a test can require
none and a report can count them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import redis
from sqlmodel import select

from config import keys
from store import eventlog
from store.db import Database
from store.models import PointEvent

Award = tuple[int, int, str, int | None]


@dataclass
class Audit:
    rooms: int = 0
    announced: int = 0  # points announced in all rooms
    wrongly_awarded: int = 0  # stored but never announced
    lost: int = 0  # announced but never stored
    details: list[str] = field(default_factory=list)


def audit_points(db: Database, r: redis.Redis) -> Audit:
    with db.session() as s:
        rows = s.exec(select(PointEvent).where(PointEvent.room_id != None)).all()  # noqa: E711
    stored: dict[str, Counter[Award]] = {}
    for e in rows:
        stored.setdefault(str(e.room_id), Counter())[(e.player_id, e.amount, e.reason, e.explanation_id)] += 1
    listed = {m.decode() if isinstance(m, bytes) else str(m) for m in r.zrange(keys.rooms_index(), 0, -1)}
    audit = Audit()
    for room in sorted(listed | set(stored)):
        told: Counter[Award] = Counter()
        for event in eventlog.since(r, room, 0) or []:
            if event["type"] == "points":
                for a in event["awards"]:
                    told[(a["player_id"], a["amount"], a["reason"], a["explanation_id"])] += 1
        kept = stored.get(room, Counter())
        audit.rooms += 1
        audit.announced += sum(a[1] * n for a, n in told.items())
        extra, missing = kept - told, told - kept
        audit.wrongly_awarded += sum(a[1] * n for a, n in extra.items())
        audit.lost += sum(a[1] * n for a, n in missing.items())
        if extra or missing:
            audit.details.append(f"{room}: stored only {dict(extra)}, announced only {dict(missing)}")
    return audit
