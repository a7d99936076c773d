"""Explanations, votes, their best scores and the points they earn (data access only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from rooms.copies import is_copy
from store.competition import try_commit
from store.models import Explanation, Player, PointEvent, Score, Vote


class CopiedExplanation(Exception):
    """The text is an earlier explanation of the unit by someone else, in the same words."""

    def __init__(self, original_id: int) -> None:
        super().__init__(f"copies explanation {original_id}")
        self.original_id = original_id


def create_explanation(
    session: Session,
    neuron_id: int,
    player_id: int,
    text: str,
    room_id: str | None,
    round_key: str | None = None,
    status: str = "visible",
) -> Explanation | None:
    """The stored explanation; None when the player already wrote one in this round (the
    unique index on player and round: a retry after a crash mid-submit stores nothing).
    Raises ``CopiedExplanation`` when the text copies someone else's explanation of the unit."""
    original = copied_from(session, neuron_id, player_id, text)
    if original is not None:
        raise CopiedExplanation(original)
    explanation = Explanation(
        neuron_id=neuron_id,
        player_id=player_id,
        text=text,
        room_id=room_id,
        round_key=round_key or None,
        status=status,
    )
    session.add(explanation)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return explanation


def copied_from(session: Session, neuron_id: int, player_id: int, text: str) -> int | None:
    """The id of an earlier explanation of the unit, by someone else (a player or the machine),
    that ``text`` copies (rooms/copies.py); removed ones do not count, ones held for a moderator
    do. On every submit: only ids and texts are read, not whole rows."""
    earlier = session.exec(
        select(Explanation.id, Explanation.text).where(
            Explanation.neuron_id == neuron_id,
            Explanation.status != "removed",
            (col(Explanation.player_id) != player_id) | col(Explanation.player_id).is_(None),
        )
    )
    return next((int(eid) for eid, earlier_text in earlier if is_copy(text, earlier_text)), None)


def cast_vote(session: Session, explanation_id: int, player_id: int, round_key: str) -> int | bool | None:
    """A player's one vote of a round: stored, or moved from their earlier vote of the round.

    Returns the explanation the vote moved away from, None for a first vote, False when
    refused (already voted for this explanation, in this round or an earlier one).
    """
    mine = session.exec(select(Vote).where(Vote.player_id == player_id, Vote.round_key == round_key)).first()
    previous: int | None = None
    if mine is None:
        session.add(Vote(explanation_id=explanation_id, player_id=player_id, round_key=round_key))
    elif mine.explanation_id == explanation_id:
        return False
    else:
        previous, mine.explanation_id = mine.explanation_id, explanation_id
        session.add(mine)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return previous


def add_vote(session: Session, explanation_id: int, player_id: int) -> bool:
    """Store one vote; False when this player already voted for it (the unique constraint)."""
    session.add(Vote(explanation_id=explanation_id, player_id=player_id))
    return try_commit(session)


def best_scores(session: Session, explanation_ids: Iterable[int]) -> dict[int, float]:
    """Each explanation's best score over every simulator version that scored it."""
    ids = list(explanation_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(Score.explanation_id, func.max(Score.score))
        .where(col(Score.explanation_id).in_(ids))
        .group_by(Score.explanation_id)
    )
    return {int(eid): float(best) for eid, best in rows}


def neuron_history(
    session: Session, neuron_id: int, shown: int
) -> tuple[list[dict[str, object]], float | None, bool]:
    """(the ``shown`` best older explanations, the neuron's best score, had a player explained it).

    Machine explanations count for the best score (they are the baseline to beat) but not
    for "explained": the first player to explain a neuron still earns first_explanation.
    """
    rows = session.exec(
        select(Explanation, Player.name)
        .join(Player, col(Explanation.player_id) == Player.id, isouter=True)
        .where(Explanation.neuron_id == neuron_id, Explanation.status == "visible")
    ).all()
    scores = best_scores(session, [int(e.id) for e, _ in rows if e.id is not None])
    ranked = sorted(rows, key=lambda row: (-scores.get(int(row[0].id or 0), -2.0), row[0].id))
    listed = [
        {
            "id": e.id,
            "text": e.text,
            "player_id": e.player_id,
            "player_name": name or "machine",
            "score": scores.get(int(e.id or 0)),
        }
        for e, name in ranked[:shown]
    ]
    return listed, (max(scores.values()) if scores else None), any(e.player_id is not None for e, _ in rows)


def add_points(
    session: Session, awards: Sequence[tuple[int, int, str, int | None]], neuron_id: int, room_id: str
) -> list[PointEvent]:
    """One PointEvent row per award (player, amount, reason, explanation), committed together."""
    events = [
        PointEvent(
            player_id=player_id,
            amount=amount,
            reason=reason,
            explanation_id=explanation_id,
            neuron_id=neuron_id,
            room_id=room_id,
        )
        for player_id, amount, reason, explanation_id in awards
    ]
    session.add_all(events)
    session.commit()
    return events
