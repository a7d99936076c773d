"""Every points rule of the puzzle room, in one place (README's "Points" section quotes it).

At the end of a round's reveal, with the scores the workers returned by then:

* ``beat_best`` (+50): each explanation written in the round whose score is higher than the
  best score any earlier explanation of the neuron had (0 when it had none). Its author gets it.
  Never while the bar is unknown: when a machine explanation of the neuron was still unscored
  as the round began (rooms pick only neurons whose machine explanations are scored; this is
  the guard for any other way a neuron gets played), no beat_best is paid at the round's end.
* ``first_explanation`` (+20): the earliest explanation of the round, when the neuron had no
  explanation at all before the round. Its author gets it, whatever its score.
* ``top_vote`` (+10): each player who voted in the round for the explanation that ends on top
  (the highest score among the round's explanations and the older ones shown with the puzzle;
  ties go to the earlier explanation).

No points for voting for yourself: such a vote is refused before it is stored. One vote per
player per explanation is enforced by the database (store.models.Vote's unique constraint).
Every award becomes one store.models.PointEvent row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BEAT_BEST = 50
FIRST_EXPLANATION = 20
TOP_VOTE = 10


@dataclass(frozen=True)
class Award:
    player_id: int
    amount: int
    reason: str
    explanation_id: int | None = None

    def to_json(self) -> dict[str, int | str | None]:
        return {
            "player_id": self.player_id,
            "amount": self.amount,
            "reason": self.reason,
            "explanation_id": self.explanation_id,
        }


@dataclass
class RoundOutcome:
    """What the rules need to know about a finished round."""

    # Explanations written in this round: id -> author.
    written: dict[int, int]
    # Every candidate's author (written ones plus older ones shown with the puzzle).
    authors: dict[int, int | None]
    # Scores known at the end of the reveal: explanation id -> score.
    scores: dict[int, float]
    # Votes cast in this round: (voter, explanation id).
    votes: list[tuple[int, int]] = field(default_factory=list)
    # Best score of the neuron's explanations before the round; None if none was scored.
    prior_best: float | None = None
    # Did the neuron have any explanation before the round?
    prior_explained: bool = False
    # Were all its machine explanations scored when the round began (is the bar known)?
    baseline_scored: bool = True


def top_explanation(scores: dict[int, float]) -> int | None:
    """The explanation that ends on top: highest score, the earlier (smaller id) on ties."""
    if not scores:
        return None
    return min(scores, key=lambda eid: (-scores[eid], eid))


def award_round(outcome: RoundOutcome) -> list[Award]:
    awards: list[Award] = []
    bar = max(outcome.prior_best or 0.0, 0.0)
    for eid in sorted(outcome.written if outcome.baseline_scored else ()):
        score = outcome.scores.get(eid)
        if score is not None and score > bar:
            awards.append(Award(outcome.written[eid], BEAT_BEST, "beat_best", eid))
    if outcome.written and not outcome.prior_explained:
        first = min(outcome.written)
        awards.append(Award(outcome.written[first], FIRST_EXPLANATION, "first_explanation", first))
    top = top_explanation({eid: s for eid, s in outcome.scores.items() if eid in outcome.authors})
    if top is not None:
        voters = sorted({voter for voter, eid in outcome.votes if eid == top})
        for voter in voters:
            if voter != outcome.authors.get(top):
                awards.append(Award(voter, TOP_VOTE, "top_vote", top))
    return awards
