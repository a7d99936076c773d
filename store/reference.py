"""Read queries of the reference half: neuron pages, lists with keyset pagination, vote counts.

Every list is ordered by a unique key and continues after the last row seen (a keyset
cursor): pages stay stable while rows are added, and no OFFSET scans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, and_, func, or_
from sqlmodel import Session, col, select

from engine.display_text import record_display, scheme_for_model
from engine.records import normalize
from store.models import Campaign, Explanation, Neuron, Player, Score, Snippet, Vote
from store.pagination import Page, clamp_limit, decode_cursor, page_of
from store.reference_models import ImportedVotes, RelatedNeuron
from store.sealed import sealed_units, without_sealed
from store.units import LATENT, NEURON, source_kind_of, unit_identity


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


# -- campaigns and neurons ------------------------------------------------------
def campaign_json(c: Campaign) -> dict[str, Any]:
    return {
        "name": c.name,
        "model": c.model,
        "layer": c.layer,
        # What its puzzles are (store/units.py): "neuron" + "neurons", or "latent" + the SAE's name.
        "unit": c.unit,
        "source": c.source,
        "source_kind": source_kind_of(c),  # "neurons", "sae" or "transcoder"
        "corpus": c.corpus,
        "window": c.window,
        "neuron_start": c.neuron_start,
        "neuron_end": c.neuron_end,
        "tokens_seen": c.tokens_seen,
        "status": c.status,
        "created_at": iso(c.created_at),
    }


def list_campaigns(session: Session, limit: int, cursor: str | None) -> Page:
    after = decode_cursor(cursor, "campaigns", [str])
    query = select(Campaign).order_by(col(Campaign.name)).limit(clamp_limit(limit) + 1)
    if after:
        query = query.where(Campaign.name > after[0])
    rows = list(session.exec(query))
    return page_of([campaign_json(c) for c in rows], limit, lambda item: ["campaigns", item["name"]])


def get_campaign(session: Session, name: str) -> Campaign | None:
    return session.exec(select(Campaign).where(Campaign.name == name)).first()


def neuron_json(n: Neuron, campaign: Campaign) -> dict[str, Any]:
    """One unit (neuron or latent) of a campaign: its identity (store/units.py) and stats."""
    return {
        "id": n.id,
        "campaign": campaign.name,
        **unit_identity(campaign, n.index),
        "max_activation": n.max_activation,
        "mean_activation": n.mean_activation,
        "frac_active": n.frac_active,
        "records_version": n.records_version,
    }


def list_neurons(session: Session, campaign: Campaign, limit: int, cursor: str | None) -> Page:
    after = decode_cursor(cursor, "neurons", [int])
    query = (
        select(Neuron)
        .where(Neuron.campaign_id == campaign.id)
        .order_by(col(Neuron.index))
        .limit(clamp_limit(limit) + 1)
    )
    if after:
        query = query.where(Neuron.index > after[0])
    items = [neuron_json(n, campaign) for n in session.exec(query)]
    return page_of(items, limit, lambda item: ["neurons", item["index"]])


def find_neuron(
    session: Session, *, neuron_id: int | None = None, campaign: str | None = None, index: int | None = None
) -> tuple[Neuron, Campaign] | None:
    query = select(Neuron, Campaign).join(Campaign, col(Neuron.campaign_id) == Campaign.id)
    if neuron_id is not None:
        query = query.where(Neuron.id == neuron_id)
    else:
        query = query.where(Campaign.name == campaign, Neuron.index == index)
    row = session.exec(query).first()
    return (row[0], row[1]) if row else None


# -- activation records ----------------------------------------------------------
def record_json(s: Snippet, scale: float, scheme: str = "") -> dict[str, Any]:
    """One snippet; ``scheme`` is how its campaign's model stored tokens (scheme_for_model)."""
    return {
        "id": s.id,
        "kind": s.kind,
        "rank": s.rank,
        "tokens": s.tokens,
        # What a reader sees for each token (engine/display_text.py): kept at mining, or
        # derived on the way out for campaigns mined before that.
        "display": record_display(s.tokens or [], s.display, scheme),
        "activations": s.activations,
        # The 0..10 shading of each token, relative to ``scale`` (the neuron's max).
        "shades": normalize(s.activations, scale),
        "max_activation": s.max_activation,
        "max_index": s.max_index,
    }


def list_records(session: Session, neuron: Neuron, kind: str | None, limit: int, cursor: str | None) -> Page:
    after = decode_cursor(cursor, "records", [str, int, int])
    query = (
        select(Snippet)
        .where(Snippet.neuron_id == neuron.id)
        .order_by(col(Snippet.kind).desc(), col(Snippet.rank), col(Snippet.id))
        .limit(clamp_limit(limit) + 1)
    )
    if kind:
        query = query.where(Snippet.kind == kind)
    if after:
        k, r, i = after
        query = query.where(
            or_(
                col(Snippet.kind) < k,
                and_(
                    Snippet.kind == k,
                    or_(col(Snippet.rank) > r, and_(Snippet.rank == r, col(Snippet.id) > i)),
                ),
            )
        )
    campaign = session.get(Campaign, neuron.campaign_id)
    scheme = scheme_for_model(campaign.model) if campaign else ""
    items = [record_json(s, neuron.max_activation, scheme) for s in session.exec(query)]
    return page_of(items, limit, lambda it: ["records", it["kind"], it["rank"], it["id"]])


# -- explanations, scores, votes --------------------------------------------------
def vote_counts(session: Session, explanation_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """(votes, audience votes) per explanation, local votes plus those imported from elsewhere."""
    ids = list(explanation_ids)
    counts = {i: (0, 0) for i in ids}
    if not ids:
        return counts
    audience = func.sum(func.cast(col(Vote.audience), Integer))
    for eid, total, aud in session.exec(
        select(Vote.explanation_id, func.count(), audience)
        .where(col(Vote.explanation_id).in_(ids))
        .group_by(col(Vote.explanation_id))
    ):
        counts[int(eid)] = (int(total), int(aud or 0))
    for imported in session.exec(select(ImportedVotes).where(col(ImportedVotes.explanation_id).in_(ids))):
        v, a = counts[imported.explanation_id]
        counts[imported.explanation_id] = (v + imported.votes, a + imported.audience_votes)
    return counts


def score_json(s: Score) -> dict[str, Any]:
    return {
        "id": s.id,
        "explanation_id": s.explanation_id,
        "simulator": s.simulator,
        "version": s.version,
        "records_version": s.records_version,
        "score": s.score,
        "per_record": s.per_record,
        "detail": s.detail,
        "created_at": iso(s.created_at),
    }


def scores_of(session: Session, explanation_ids: Iterable[int]) -> dict[int, list[Score]]:
    ids = list(explanation_ids)
    out: dict[int, list[Score]] = {i: [] for i in ids}
    if ids:
        query = select(Score).where(col(Score.explanation_id).in_(ids)).order_by(col(Score.id))
        for s in session.exec(query):
            out[s.explanation_id].append(s)
    return out


def explanations_json(
    session: Session, rows: Sequence[tuple[Explanation, str | None]]
) -> list[dict[str, Any]]:
    """Explanations with author, vote counts, every score and the best one (simulator + version)."""
    ids = [int(e.id or 0) for e, _ in rows]
    votes = vote_counts(session, ids)
    scores = scores_of(session, ids)
    items = []
    for e, author in rows:
        own = scores[int(e.id or 0)]
        best = max(own, key=lambda s: (s.score, -int(s.id or 0)), default=None)
        items.append(
            {
                "id": e.id,
                "neuron_id": e.neuron_id,
                "text": e.text,
                "author": author,
                "source": e.source,
                "created_at": iso(e.created_at),
                "votes": votes[int(e.id or 0)][0],
                "audience_votes": votes[int(e.id or 0)][1],
                "best_score": score_json(best) if best else None,
                "scores": [score_json(s) for s in own],
            }
        )
    return items


def _explanation_query(session: Session) -> Any:
    """Visible explanations with their authors, less those of units a quest is playing."""
    query = (
        select(Explanation, Player.name)
        .join(Player, col(Explanation.player_id) == Player.id, isouter=True)
        .where(Explanation.status == "visible")
    )
    return without_sealed(query, sealed_units(session))


def list_explanations(
    session: Session,
    limit: int,
    cursor: str | None,
    *,
    neuron_id: int | None = None,
    campaign_id: int | None = None,
) -> Page:
    after = decode_cursor(cursor, "explanations", [int])
    query = _explanation_query(session).order_by(col(Explanation.id)).limit(clamp_limit(limit) + 1)
    if neuron_id is not None:
        query = query.where(Explanation.neuron_id == neuron_id)
    if campaign_id is not None:
        query = query.join(Neuron, col(Explanation.neuron_id) == Neuron.id).where(
            Neuron.campaign_id == campaign_id
        )
    if after:
        query = query.where(col(Explanation.id) > after[0])
    items = explanations_json(session, list(session.exec(query)))
    return page_of(items, limit, lambda it: ["explanations", it["id"]])


def get_explanation(session: Session, explanation_id: int) -> dict[str, Any] | None:
    rows = list(session.exec(_explanation_query(session).where(Explanation.id == explanation_id)))
    return explanations_json(session, rows)[0] if rows else None


def list_scores(session: Session, explanation_id: int, limit: int, cursor: str | None) -> Page:
    after = decode_cursor(cursor, "scores", [int])
    query = select(Score).where(Score.explanation_id == explanation_id)
    if after:
        query = query.where(col(Score.id) > after[0])
    rows = session.exec(query.order_by(col(Score.id)).limit(clamp_limit(limit) + 1))
    return page_of([score_json(s) for s in rows], limit, lambda it: ["scores", it["id"]])


def list_votes(session: Session, explanation_id: int, limit: int, cursor: str | None) -> Page:
    after = decode_cursor(cursor, "votes", [int])
    query = (
        select(Vote, Player.name)
        .join(Player, col(Vote.player_id) == Player.id)
        .where(Vote.explanation_id == explanation_id)
    )
    if after:
        query = query.where(col(Vote.id) > after[0])
    rows = session.exec(query.order_by(col(Vote.id)).limit(clamp_limit(limit) + 1))
    items = [
        {"id": v.id, "voter": name, "audience": v.audience, "created_at": iso(v.created_at)}
        for v, name in rows
    ]
    imported = session.get(ImportedVotes, explanation_id)
    extra = {"imported_votes": imported.votes if imported else 0}
    page = page_of(items, limit, lambda it: ["votes", it["id"]])
    page.extra = extra
    return page


# How related units were found (workers/reference.py): neurons by the correlation of their
# activations, latents by the cosine similarity of their decoder directions.
RELATED_MEASURE = {NEURON: "activation_correlation", LATENT: "decoder_cosine"}


def related_neurons(session: Session, neuron_id: int) -> list[dict[str, Any]]:
    """The unit's related units of its own campaign (same unit kind and source), best first.

    ``correlation`` holds the measure's value (``measure`` names it)."""
    rows = session.exec(
        select(RelatedNeuron, Neuron.index, Campaign.unit)
        .join(Neuron, col(RelatedNeuron.other_id) == Neuron.id)
        .join(Campaign, col(Neuron.campaign_id) == Campaign.id)
        .where(RelatedNeuron.neuron_id == neuron_id)
        .order_by(col(RelatedNeuron.rank))
    )
    return [
        {
            "id": r.other_id,
            "index": index,
            "correlation": r.correlation,
            "measure": RELATED_MEASURE.get(unit, RELATED_MEASURE[NEURON]),
            "computed_at": iso(r.computed_at),
        }
        for r, index, unit in rows
    ]
