"""Everything the neuron page shows, in one JSON object (the "Wikipedia for neurons" article)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from engine.display_text import scheme_for_model
from store.models import Campaign, Explanation, Neuron, Player, Snippet
from store.reference import explanations_json, iso, neuron_json, record_json, related_neurons
from store.sealed import seal_note, sealed_units, without_sealed


def _ranking_key(item: dict[str, Any]) -> tuple[float, int, int]:
    # Best score first (unscored last), then most votes, then the older explanation.
    best = item["best_score"]
    return (-(best["score"] if best else -1e9), -item["votes"], int(item["id"]))


def neuron_page(
    session: Session,
    neuron: Neuron,
    campaign: Campaign,
    *,
    top: int = 20,
    random: int = 10,
    explanations: int = 20,
    history: int = 50,
) -> dict[str, Any]:
    snippets = {
        kind: list(
            session.exec(
                select(Snippet)
                .where(Snippet.neuron_id == neuron.id, Snippet.kind == kind)
                .order_by(col(Snippet.rank), col(Snippet.id))
                .limit(count)
            )
        )
        for kind, count in (("top", top), ("random", random))
    }
    shown = [s for group in snippets.values() for s in group]
    # Shading is relative to the max over the records shown together (as the game shows them).
    scale = max((s.max_activation for s in shown), default=0.0) or neuron.max_activation
    scheme = scheme_for_model(campaign.model)

    sealed = sealed_units(session)
    rows = list(
        session.exec(
            without_sealed(
                select(Explanation, Player.name)
                .join(Player, col(Explanation.player_id) == Player.id, isouter=True)
                .where(Explanation.neuron_id == neuron.id, Explanation.status == "visible"),
                sealed,
            )
        )
    )
    ranked = sorted(explanations_json(session, rows), key=_ranking_key)
    by_time = sorted(rows, key=lambda row: (row[0].created_at, row[0].id), reverse=True)
    return {
        "neuron": neuron_json(neuron, campaign),
        "stats": {
            "max_activation": neuron.max_activation,
            "mean_activation": neuron.mean_activation,
            # Fraction of the campaign's tokens on which the neuron fires (> 0).
            "firing_frequency": neuron.frac_active,
            "histogram": neuron.histogram or {"edges": [], "counts": []},
            "tokens_seen": campaign.tokens_seen,
        },
        "shade_scale": scale,
        "top_records": [record_json(s, scale, scheme) for s in snippets["top"]],
        "random_records": [record_json(s, scale, scheme) for s in snippets["random"]],
        "explanations": ranked[:explanations],
        # While a quest plays the unit its explanations are withheld (store/sealed.py): when.
        "sealed": seal_note(int(neuron.id or 0), sealed),
        "explanation_count": len(rows),
        "history": [
            {
                "explanation_id": e.id,
                "author": author,
                "text": e.text,
                "source": e.source,
                "created_at": iso(e.created_at),
            }
            for e, author in by_time[:history]
        ],
        "related": related_neurons(session, int(neuron.id or 0)),
    }
