"""Rows the competition tests need, inserted directly (the hub writes them in production)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from config.settings import Settings
from store.competition import membership_of
from store.competition.leaderboards import apply_point_event
from store.db import Database
from store.models import Campaign, Neuron, Player, PointEvent

# Injected time, never slept. It must lie ahead of the real clock, because Redis expires period
# boards at real time (EXPIREAT); so: the first Saturday at least a week from today, at noon.
_today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=7)
T0 = _today + timedelta(days=(5 - _today.weekday()) % 7)
SUNDAY = T0 + timedelta(days=1)


def make_players(db: Database, n: int, country: str | None = "FR", region: str | None = None) -> list[Player]:
    with db.session() as s:
        players = [Player(name=f"p{i}", country=country, region=region) for i in range(n)]
        s.add_all(players)
        s.commit()
        return players


def make_neuron(db: Database) -> int:
    """A neuron of a new ready campaign (for rows that need one: explanations, votes)."""
    with db.session() as s:
        campaign = Campaign(name="c", model="m", layer=1, status="ready")
        s.add(campaign)
        s.commit()
        neuron = Neuron(campaign_id=campaign.id or 0, index=0)
        s.add(neuron)
        s.commit()
        return int(neuron.id or 0)


def award(
    db: Database,
    r: redis.Redis,
    settings: Settings,
    player: Player,
    amount: int,
    at: datetime,
    *,
    room_id: str | None = None,
    quest_id: int | None = None,
    neuron_id: int | None = None,
    reason: str = "beat_best",
    now: datetime | None = None,
) -> PointEvent:
    """What the hub does: store the PointEvent, then count it on every board."""
    with db.session() as s:
        event = PointEvent(
            player_id=player.id or 0,
            amount=amount,
            reason=reason,
            room_id=room_id,
            quest_id=quest_id,
            neuron_id=neuron_id,
            created_at=at,
        )
        s.add(event)
        s.commit()
        member = membership_of(s, player.id or 0)
        apply_point_event(r, event, player, member.team_id if member else None, now or at, settings)
        return event


def snapshot(r: redis.Redis) -> dict[str, object]:
    """Every leaderboard key's full content (sorted sets with scores, hashes), for equality."""
    out: dict[str, object] = {}
    for key in sorted(r.scan_iter(match="nq:lb:*")):
        kind = r.type(key)
        if kind == b"zset":
            out[key.decode()] = r.zrange(key, 0, -1, withscores=True)
        elif kind == b"hash":
            out[key.decode()] = sorted(r.hgetall(key).items())
    out.pop("nq:lb:built", None)
    return out
