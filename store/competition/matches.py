"""Finished team matches into SQL: the Match row, one MatchResult per team, and the badges.

The match rules are rooms/team_match.py; this is where their outcome is stored.
"""

from __future__ import annotations

from sqlmodel import Session

from rooms.team_match import MatchError, Phase, TeamMatch
from store.competition import badges
from store.models import Match, MatchResult


def store_result(session: Session, match: TeamMatch) -> Match:
    """Persist a finished match and grant achievements to everyone who played."""
    if match.phase is not Phase.FINISHED or match.started_at is None or match.ended_at is None:
        raise MatchError("not_finished", "only a finished match has a result")
    row = Match(
        room_id=match.room_id,
        kind="team",
        status="finished",
        neuron_ids=match.neuron_ids,
        started_at=match.started_at,
        ended_at=match.ended_at,
    )
    session.add(row)
    session.flush()
    for team_id, score, rank in match.standings():
        session.add(MatchResult(match_id=row.id or 0, team_id=team_id, score=score, rank=rank))
    session.commit()
    for player_id in match.players:
        badges.grant(session, player_id, match.ended_at)
    return row
