"""What a room needs from a campaign: its playable neurons, their clues, who solved what.

Reads the Campaign / Neuron / Snippet tables directly (store/campaigns.py, written for
mining, owns how they are filled).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from engine.display_text import record_display, scheme_for_model
from store.models import Campaign, Explanation, Neuron, Score, Snippet
from store.units import unit_identity


def _unscored_baselines():  # type: ignore[no-untyped-def]
    """Neuron ids with a shown machine explanation that has no score yet (a subquery)."""
    scored = select(Score.explanation_id)
    return select(Explanation.neuron_id).where(
        Explanation.source == "machine",
        Explanation.status == "visible",
        col(Explanation.id).not_in(scored),
    )


def playable_neurons(session: Session, campaign: str) -> list[int]:
    """Neurons of the campaign that fire at all, have top snippets to show and whose machine
    explanations are all scored: they are the bar a player's score must beat, so a neuron is
    never served before its bar is known (rooms/points.py, beat_best)."""
    rows = session.exec(
        select(Neuron.id)
        .join(Campaign, col(Neuron.campaign_id) == Campaign.id)
        .where(Campaign.name == campaign, Neuron.max_activation > 0)
        .where(col(Neuron.id).in_(select(Snippet.neuron_id).where(Snippet.kind == "top")))
        .where(col(Neuron.id).not_in(_unscored_baselines()))
        .order_by(col(Neuron.index))
    )
    return [int(n) for n in rows]


def campaign_of(session: Session, neuron_id: int) -> str | None:
    """The name of the campaign a unit belongs to, None when there is no such unit."""
    query = select(Campaign.name).join(Neuron, col(Neuron.campaign_id) == Campaign.id)
    return session.exec(query.where(Neuron.id == neuron_id)).first()


def baseline_scored(session: Session, neuron_id: int) -> bool:
    """Is every shown machine explanation of the neuron scored (its bar known)?"""
    pending = session.exec(_unscored_baselines().where(Explanation.neuron_id == neuron_id).limit(1)).first()
    return pending is None


def neuron_clues(
    session: Session, neuron_id: int, limit: int
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """(neuron facts, its top snippets as records) or None when the neuron does not exist."""
    row = session.exec(
        select(Neuron, Campaign)
        .join(Campaign, col(Neuron.campaign_id) == Campaign.id)
        .where(Neuron.id == neuron_id)
    ).first()
    if row is None:
        return None
    neuron, campaign = row
    scheme = scheme_for_model(campaign.model)
    top = select(Snippet).where(Snippet.neuron_id == neuron_id, Snippet.kind == "top")
    snippets = distinct_clues(session.exec(top.order_by(col(Snippet.rank))), limit)
    facts = {
        "id": neuron.id,
        "campaign": campaign.name,
        "index": neuron.index,
        "max_activation": neuron.max_activation,
        # Which unit this is (a neuron, or a latent the players call a feature): store/units.py.
        "unit": unit_identity(campaign, neuron.index),
    }
    clues = [
        {
            "tokens": s.tokens,
            "display": record_display(s.tokens or [], s.display, scheme),
            "activations": [round(float(a), 4) for a in s.activations],
            "max_index": s.max_index,
        }
        for s in snippets
    ]
    return facts, clues


# Tokens either side of a snippet's peak that make two clues the same to a player's eye.
SAME_CLUE_SPAN = 8


def distinct_clues(ranked: Iterable[Snippet], limit: int) -> list[Snippet]:
    """The first ``limit`` top snippets, by rank, that do not repeat an earlier one around its peak.

    Why: a corpus can hold a text twice (Debian's fortunes repeat some across their files), and
    the two copies fall in different windows, so mining keeps both; the default campaign showed
    the same clue twice among eight. The tokens around the peak are what the clue shows."""
    kept: list[Snippet] = []
    seen: set[tuple[str, ...]] = set()
    for snippet in ranked:
        tokens, peak = snippet.tokens or [], snippet.max_index
        key = tuple(tokens[max(0, peak - SAME_CLUE_SPAN) : peak + SAME_CLUE_SPAN + 1])
        if key in seen:
            continue
        seen.add(key)
        kept.append(snippet)
        if len(kept) >= limit:
            break
    return kept


def solved_neurons(session: Session, player_ids: Iterable[int]) -> set[int]:
    """Neurons any of these players has already explained."""
    ids = list(player_ids)
    if not ids:
        return set()
    rows = session.exec(select(Explanation.neuron_id).where(col(Explanation.player_id).in_(ids)).distinct())
    return {int(n) for n in rows}
