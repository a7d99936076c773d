"""Every points rule of the puzzle room, in one place (README's "Points" section quotes it).

At the end of a round's reveal, with the scores the workers returned by then:

* ``beat_best`` (+50): each explanation written in the round whose score is higher than the
  best score any earlier explanation of the neuron had (0 when it had none). Its author gets it.
  Never while the bar is unknown: when a machine explanation of the neuron was still unscored
  as the round began (rooms pick only neurons whose machine explanations are scored; this is
  the guard for any other way a neuron gets played), the room settles the round with the bar
  at 1.0, the highest score there is (server/live/room_rows.py ``UNKNOWN_BAR``).
* ``first_explanation`` (+20): the earliest explanation of the round, when the neuron had no
  explanation at all before the round. Its author gets it, whatever its score.
* ``top_vote`` (+10): each player whose vote in the round is for the explanation that ends on
  top (the highest score among the round's explanations and the older ones shown with the
  puzzle; ties go to the earlier explanation).

A score that arrives after the reveal ended (``late_award``) is settled by the scoring worker
under the same round's rules: its author gets ``beat_best`` if it beats the best score the
neuron had before the round. The round's top (and so ``top_vote``) is what was known when the
round ended; a late score does not change it.

Limits that keep the points honest (each enforced outside this module, named here):

* One vote per player per round, changeable until the round ends: a new vote moves the
  player's earlier one (rooms.puzzle_room.add_vote; store.models.Vote's unique index on
  player and round). Voting for everything is no longer possible, so it cannot guarantee
  ``top_vote``. No vote for yourself, as a player or as the audience.
* One explanation per player per round (store.models.Explanation's unique index).
* One room at a time: a player's first submit or vote in a round claims the player's earning
  slot for that room (server/live/earning.py); while it is held, submits and votes in any other
  room are refused (``busy_elsewhere``). It is held until the round can have settled, and at
  least ``round_s + reveal_min_s`` from the claim, so hopping between rooms that end at
  different times earns no faster than playing one room. More tabs are one member.
* Every award carries a claim (``Award.claim``), unique in SQL (store.models.PointEvent.claim):
  ``first_explanation`` once per neuron ever, ``beat_best`` once per explanation, ``top_vote``
  once per player and round — whoever settles first stores it, every other attempt nothing.
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
    # What the award settles; unique among all awards ever stored (see the module's text).
    claim: str | None = None

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
    # The round's name (rooms.puzzle_room.round_key) and neuron, for the awards' claims.
    round_key: str = ""
    neuron_id: int = 0


def top_explanation(scores: dict[int, float]) -> int | None:
    """The explanation that ends on top: highest score, the earlier (smaller id) on ties."""
    if not scores:
        return None
    return min(scores, key=lambda eid: (-scores[eid], eid))


def late_award(explanation_id: int, author: int, score: float, prior_best: float | None) -> Award | None:
    """A score that came after its round ended: ``beat_best`` under that round's bar."""
    if score > max(prior_best or 0.0, 0.0):
        return Award(author, BEAT_BEST, "beat_best", explanation_id, f"beat_best:{explanation_id}")
    return None


def award_round(outcome: RoundOutcome) -> list[Award]:
    awards: list[Award] = []
    for eid in sorted(outcome.written):
        score = outcome.scores.get(eid)
        if score is not None and (award := late_award(eid, outcome.written[eid], score, outcome.prior_best)):
            awards.append(award)
    if outcome.written and not outcome.prior_explained:
        first = min(outcome.written)
        claim = f"first_explanation:{outcome.neuron_id}"
        awards.append(Award(outcome.written[first], FIRST_EXPLANATION, "first_explanation", first, claim))
    top = top_explanation({eid: s for eid, s in outcome.scores.items() if eid in outcome.authors})
    if top is not None:
        last_vote = dict(outcome.votes)  # one vote per player: the last one counts
        voters = sorted(voter for voter, eid in last_vote.items() if eid == top)
        for voter in voters:
            if voter != outcome.authors.get(top):
                claim = f"top_vote:{outcome.round_key}:{voter}"
                awards.append(Award(voter, TOP_VOTE, "top_vote", top, claim))
    return awards
