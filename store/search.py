"""Search over explanations: full text (one function, two backends) and semantic (embeddings).

Full text: on PostgreSQL ``to_tsvector('english', text) @@ to_tsquery`` ranked by ``ts_rank``
(served by the GIN index of migration 0002); on SQLite the FTS5 table ``explanation_fts``
(porter stemming, kept in sync by triggers) ranked by ``bm25``. The query's words are ORed so
an explanation matching more (and rarer) words ranks higher; punctuation never reaches the
query parser, so no input can make it fail.

Semantic: cosine similarity between the query's embedding and each explanation's; a neuron
ranks by its best-matching explanation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlmodel import Session, col, select

from engine.embeddings import from_bytes, to_bytes
from store.models import Campaign, Explanation, Neuron
from store.pagination import Page, clamp_limit, decode_cursor, page_of
from store.reference_models import ExplanationEmbedding
from store.sealed import sealed_units, without_sealed

MAX_TERMS = 16
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that say nothing about a neuron; PostgreSQL's english config drops these too.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "about",
        "neuron",
        "neurons",
        "fire",
        "fires",
        "firing",
    ]
)


class BadQuery(ValueError):
    """A search query with nothing to search for."""


def query_terms(query: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(query)]
    terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS))[:MAX_TERMS]
    if not terms:
        raise BadQuery("the query has no words to search for")
    return terms


_SQLITE = """
SELECT id, relevance FROM (
  SELECT e.id AS id, -bm25(explanation_fts) AS relevance
  FROM explanation_fts JOIN explanation e ON e.id = explanation_fts.rowid
  JOIN neuron n ON n.id = e.neuron_id
  WHERE explanation_fts MATCH :match AND e.status = 'visible' {campaign} {sealed}
) AS hits {after}
ORDER BY relevance DESC, id ASC LIMIT :limit
"""

_POSTGRES = """
SELECT id, relevance FROM (
  SELECT e.id AS id, CAST(ts_rank(to_tsvector('english', e.text), q) AS DOUBLE PRECISION) AS relevance
  FROM explanation e JOIN neuron n ON n.id = e.neuron_id, to_tsquery('english', :match) AS q
  WHERE to_tsvector('english', e.text) @@ q AND e.status = 'visible' {campaign} {sealed}
) AS hits {after}
ORDER BY relevance DESC, id ASC LIMIT :limit
"""


def full_text_search(
    session: Session,
    query: str,
    *,
    campaign_id: int | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page:
    """Explanations matching ``query``, most relevant first (BadQuery/BadCursor on bad input)."""
    terms = query_terms(query)
    after = decode_cursor(cursor, "text", [float, int])
    postgres = session.get_bind().dialect.name == "postgresql"
    sealed = sealed_units(session)  # ids from the database, ints: safe to spell into the SQL
    sql = (_POSTGRES if postgres else _SQLITE).format(
        campaign="AND n.campaign_id = :campaign" if campaign_id is not None else "",
        sealed=f"AND e.neuron_id NOT IN ({', '.join(str(int(n)) for n in sealed)})" if sealed else "",
        after="WHERE relevance < :rel OR (relevance = :rel AND id > :aid)" if after else "",
    )
    params: dict[str, Any] = {
        "match": " | ".join(terms) if postgres else " OR ".join(f'"{t}"' for t in terms),
        "limit": clamp_limit(limit) + 1,
    }
    if campaign_id is not None:
        params["campaign"] = campaign_id
    if after:
        params["rel"], params["aid"] = after
    hits = [(int(i), float(r)) for i, r in session.execute(text(sql), params)]
    info = _explanation_info(session, [i for i, _ in hits])
    items = [{**info[i], "relevance": r} for i, r in hits if i in info]
    page = page_of(items, limit, lambda it: ["text", it["relevance"], it["id"]])
    page.extra = {"terms": terms}
    return page


def _explanation_info(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = session.exec(
        select(Explanation, Neuron.index, Campaign)
        .join(Neuron, col(Explanation.neuron_id) == Neuron.id)
        .join(Campaign, col(Neuron.campaign_id) == Campaign.id)
        .where(col(Explanation.id).in_(list(ids)))
    )
    return {
        int(e.id or 0): {
            "id": e.id,
            "text": e.text,
            "neuron": unit_ref(e.neuron_id, campaign, index),
        }
        for e, index, campaign in rows
    }


def unit_ref(neuron_id: int, campaign: Campaign, index: int) -> dict[str, Any]:
    """A hit's unit: its id, campaign and identity (a latent is never taken for a neuron)."""
    return {
        "id": neuron_id,
        "campaign": campaign.name,
        "index": index,
        "unit": campaign.unit,
        "source": campaign.source,
        "model": campaign.model,
        "layer": campaign.layer,
    }


# -- semantic search -----------------------------------------------------------------
def missing_embeddings(
    session: Session, model: str, ids: Iterable[int] | None = None
) -> list[tuple[int, str]]:
    """(id, text) of visible explanations without an embedding by ``model`` (all, or among ``ids``)."""
    have = select(ExplanationEmbedding.explanation_id).where(ExplanationEmbedding.model == model)
    query = select(Explanation.id, Explanation.text).where(
        Explanation.status == "visible", col(Explanation.id).not_in(have)
    )
    if ids is not None:
        query = query.where(col(Explanation.id).in_(list(ids)))
    return [(int(i), t) for i, t in session.exec(query.order_by(col(Explanation.id)))]


def save_embeddings(session: Session, model: str, rows: Sequence[tuple[int, np.ndarray]]) -> int:
    """Store (or replace) embeddings; returns how many were written."""
    for explanation_id, vector in rows:
        row = session.get(ExplanationEmbedding, explanation_id) or ExplanationEmbedding(
            explanation_id=explanation_id, model=model, dim=0, vector=b""
        )
        row.model, row.dim, row.vector = model, int(vector.shape[0]), to_bytes(vector)
        session.add(row)
    session.commit()
    return len(rows)


def semantic_search(
    session: Session,
    query_vector: np.ndarray,
    model: str,
    *,
    campaign_id: int | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page:
    """Neurons ranked by their explanation nearest in meaning to the query (cosine similarity)."""
    after = decode_cursor(cursor, "semantic", [float, int])
    query = (
        select(ExplanationEmbedding, Explanation.neuron_id, Explanation.text, Neuron.index, Campaign)
        .join(Explanation, col(ExplanationEmbedding.explanation_id) == Explanation.id)
        .join(Neuron, col(Explanation.neuron_id) == Neuron.id)
        .join(Campaign, col(Neuron.campaign_id) == Campaign.id)
        .where(ExplanationEmbedding.model == model, Explanation.status == "visible")
    )
    if campaign_id is not None:
        query = query.where(Neuron.campaign_id == campaign_id)
    rows = list(session.exec(without_sealed(query, sealed_units(session))))
    best: dict[int, dict[str, Any]] = {}
    if rows:
        matrix = np.stack([from_bytes(r[0].vector, r[0].dim) for r in rows])
        sims = matrix @ query_vector.astype(np.float32)
        for (emb, neuron_id, text_, index, campaign), sim in zip(rows, sims.tolist(), strict=True):
            current = best.get(neuron_id)
            if current is None or (sim, -emb.explanation_id) > (
                current["similarity"],
                -current["explanation"]["id"],
            ):
                best[neuron_id] = {
                    "neuron": unit_ref(neuron_id, campaign, index),
                    "similarity": float(sim),
                    "explanation": {"id": emb.explanation_id, "text": text_},
                }
    ranked = sorted(best.values(), key=lambda it: (-it["similarity"], it["neuron"]["id"]))
    if after:
        sim, nid = after
        ranked = [it for it in ranked if (-it["similarity"], it["neuron"]["id"]) > (-sim, nid)]
    page = page_of(
        ranked[: clamp_limit(limit) + 1], limit, lambda it: ["semantic", it["similarity"], it["neuron"]["id"]]
    )
    page.extra = {"unembedded": len(missing_embeddings(session, model))}
    return page
