"""Side quests, the I/O half: open the current quests, close ended ones, credit explanations.

The rules (which neurons, what an explanation earns, the standings) are rooms/quest_rules.py;
this module reads and writes them in SQL and on the boards. Whichever process asks first opens
the current quest, and the (kind, period) unique constraint settles a race. The scheduler's
``quest_rollover`` opens the current ones and closes those whose period ended, freezing every
participant's points and competition rank into QuestResult; the API also opens the current
quest when asked, so a stopped scheduler costs nobody their daily.

The daily is played once, as Wordle is: only the player's first explanation of the day's neuron
(``first_attempt``) earns, whichever room it was written in. In the weekly only the player's best
per neuron counts: a better attempt earns the difference as a new PointEvent. Either way the
quest board (operator incr) holds the sum of what counts and rebuilds from SQL like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlmodel import Session, col, func, select

from config.settings import Settings
from rooms import quest_rules
from rooms.boards import as_utc, period_bounds
from rooms.boards import period_id as board_period
from rooms.quest_rules import QUEST_KINDS, quest_period, quest_points
from store import competition
from store.competition import badges
from store.competition.leaderboards import apply_point_event, tiebreak
from store.models import Explanation, Player, PointEvent, Quest, QuestResult
from store.settlement import insert_claimed
from store.units import unit_word

log = logging.getLogger("neuronquest.quests")

__all__ = ["QUEST_KINDS", "quest_period", "quest_points"]  # the rules callers reach through here
# Concurrent credits of one player's neuron: each retry reads the level another one reached.
CLAIM_ATTEMPTS = 4


def max_points(quest: Quest) -> int:
    return quest_rules.max_points(quest.neuron_ids)


def seconds_left(quest: Quest, now: datetime) -> int:
    return quest_rules.seconds_left(quest.closes_at, now)


def choose_neurons(
    session: Session, kind: str, period: str, weekly_size: int
) -> tuple[str, list[int]] | None:
    """(title, neuron ids) for a quest; None when no campaign is ready yet."""
    pool = [
        quest_rules.PoolNeuron(n.id or 0, n.index, c.id or 0, c.name, unit_word(c.unit))
        for n, c in competition.ready_neurons(session)
    ]
    return quest_rules.choose_neurons(pool, kind, period, weekly_size)


def ensure_quest(session: Session, kind: str, now: datetime, settings: Settings) -> Quest | None:
    """The current quest of ``kind``, opened now if nobody has yet; None without ready neurons."""
    period = quest_period(kind, now)
    existing = competition.quest_for(session, kind, period)
    if existing is not None:
        return existing
    chosen = choose_neurons(session, kind, period, settings.weekly_quest_neurons)
    if chosen is None:
        return None
    bounds = period_bounds(board_period(kind, now))
    assert bounds is not None
    title, neuron_ids = chosen
    quest = Quest(
        kind=kind, period=period, title=title, neuron_ids=neuron_ids, opens_at=bounds[0], closes_at=bounds[1]
    )
    session.add(quest)
    if not competition.try_commit(session):  # another process opened it first
        return competition.quest_for(session, kind, period)
    log.info("opened %s quest %s: %s", kind, period, title)
    return quest


def standings(session: Session, quest_id: int) -> list[tuple[int, int, int]]:
    """(player id, points, competition rank), best first, ordered exactly like the quest board."""
    events = competition.events_for_quest(session, quest_id)
    return quest_rules.standings((e.player_id, e.amount, tiebreak(e)) for e in events)


def close_quest(session: Session, quest: Quest, now: datetime, settings: Settings) -> int:
    """Freeze every participant's points and rank; returns how many results were stored."""
    rows = standings(session, quest.id or 0)
    for player_id, points, rank in rows:
        detail = {"points": points, "max_points": max_points(quest), "top": rank <= settings.quest_top_n}
        session.add(
            QuestResult(
                quest_id=quest.id or 0,
                player_id=player_id,
                score=float(points),
                rank=rank,
                detail=detail,
                frozen_at=now,
            )
        )
    quest.status = "closed"
    session.add(quest)
    session.commit()
    for player_id, _, _ in rows:
        badges.grant(session, player_id, now)
    log.info("closed %s quest %s: %d results", quest.kind, quest.period, len(rows))
    return len(rows)


def quest_rollover(ctx: object, now: datetime) -> None:
    """Scheduler task (SchedulerContext, now): close ended quests, open the current ones."""
    db, settings = ctx.db, ctx.settings  # type: ignore[attr-defined]
    with db.session() as session:
        for quest in competition.quests_to_close(session, now):
            close_quest(session, quest, now, settings)
        for kind in QUEST_KINDS:
            ensure_quest(session, kind, now, settings)


@dataclass(frozen=True)
class Credit:
    quest_id: int
    event: PointEvent


def credit_explanation(
    session: Session, r: redis.Redis, explanation_id: int, now: datetime, settings: Settings
) -> list[Credit]:
    """After an explanation is scored: award quest points if it improves its author's best.

    Called by the scoring worker right after it stores a score (store/quest_credit.py), so the
    author is credited whether or not they are connected. Harmless for explanations of neurons
    in no open quest, for machine explanations, and when called twice or concurrently: each
    credit claims the step it climbs from (``quest:<quest>:<player>:<neuron>:<from>``, unique),
    so two settlements racing from the same level store one row and the other reads again.
    """
    explanation = session.get(Explanation, explanation_id)
    if explanation is None or explanation.player_id is None:
        return []
    score = competition.latest_score(session, explanation_id)
    player = session.get(Player, explanation.player_id)
    if score is None or player is None:
        return []
    written = as_utc(explanation.created_at)
    credits = []
    for quest in competition.open_quests_with_neuron(session, explanation.neuron_id, written):
        if quest.kind == "daily" and first_attempt(session, quest, player.id or 0) != explanation_id:
            continue  # one attempt a day: a second explanation of the daily neuron earns nothing
        earned = quest_points(score)
        for _ in range(CLAIM_ATTEMPTS):
            already = competition.quest_credit(session, quest.id or 0, player.id or 0, explanation.neuron_id)
            if earned <= already:
                break
            event = PointEvent(
                player_id=player.id or 0,
                amount=earned - already,
                reason="quest",
                explanation_id=explanation_id,
                neuron_id=explanation.neuron_id,
                quest_id=quest.id,
                claim=f"quest:{quest.id}:{player.id}:{explanation.neuron_id}:{already}",
                created_at=now,
            )
            stored = insert_claimed(session, [event])
            if not stored:
                continue  # another settlement climbed from this level first: read again
            member = competition.membership_of(session, player.id or 0)
            apply_point_event(r, stored[0], player, member.team_id if member else None, now, settings)
            credits.append(Credit(quest.id or 0, stored[0]))
            break
    if credits:
        badges.grant(session, player.id or 0, now)
    return credits


def attempts(session: Session, quest: Quest, player_id: int) -> list[Explanation]:
    """The player's explanations of the quest's neurons written while it was open, oldest first."""
    query = select(Explanation).where(
        Explanation.player_id == player_id,
        col(Explanation.neuron_id).in_(list(quest.neuron_ids or [])),
        Explanation.created_at >= quest.opens_at,
        Explanation.created_at < quest.closes_at,
    )
    return list(session.exec(query.order_by(col(Explanation.created_at), col(Explanation.id))))


def first_attempt(session: Session, quest: Quest, player_id: int) -> int | None:
    """The id of the explanation a daily counts for the player: their first of the day's neuron."""
    found = attempts(session, quest, player_id)
    return found[0].id if found else None


def played(session: Session, quest: Quest, player_id: int) -> int:
    """How many of the quest's neurons the player wrote an explanation for while it was open
    (a played daily may score 0 points: the lobby still shows it as played)."""
    query = select(func.count(func.distinct(Explanation.neuron_id))).where(
        Explanation.player_id == player_id,
        col(Explanation.neuron_id).in_(list(quest.neuron_ids or [])),
        Explanation.created_at >= quest.opens_at,
        Explanation.created_at < quest.closes_at,
    )
    return int(session.exec(query).one())
