"""RQ jobs of the reference half: explanation embeddings and related neurons.

- ``embed_explanations_job(explanation_ids)``: sentence embeddings for semantic search
  (None = every visible explanation that has none yet). Cheap; enqueue after new explanations.
- ``related_neurons_job(campaign_id)``: runs the campaign's model over the campaign's windows
  (the distinct top and random snippets of all its neurons), and keeps, per neuron, the
  neurons whose activations correlate most with its own over all those tokens (Pearson).
  For a campaign of an SAE's latents it keeps, per latent, the latents whose decoder
  directions are most alike (cosine similarity; engine/units.py decoder_neighbours): no
  forward pass, and the same rows (RelatedNeuron) and shape.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sqlmodel import col, delete, select

from engine.embeddings import get_embedder
from store.models import Campaign, Neuron, Snippet
from store.reference_models import RelatedNeuron
from store.search import missing_embeddings, save_embeddings
from store.units import LATENT
from workers.context import WorkerContext, get_context

log = logging.getLogger(__name__)
EMBED_BATCH = 256


def embed_explanations_job(explanation_ids: list[int] | None = None) -> int:
    """Embed the explanations that lack an embedding; returns how many were embedded."""
    ctx = get_context()
    embedder = get_embedder()
    with ctx.db.session() as session:
        todo = missing_embeddings(session, embedder.name, explanation_ids)
    done = 0
    for start in range(0, len(todo), EMBED_BATCH):
        chunk = todo[start : start + EMBED_BATCH]
        vectors = embedder.embed([text for _, text in chunk])
        with ctx.db.session() as session:
            done += save_embeddings(
                session, embedder.name, [(i, v) for (i, _), v in zip(chunk, vectors, strict=True)]
            )
    return done


def correlations(acts: np.ndarray) -> np.ndarray:
    """Pearson correlation [K, K] between the columns of ``acts`` [T, K]; NaN where a column is constant."""
    centered = acts - acts.mean(axis=0, keepdims=True)
    norms = np.sqrt((centered**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (centered.T @ centered) / np.outer(norms, norms)


def top_related(corr: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Per column, the ``k`` other columns with the highest correlation (best first, ties by column)."""
    out = []
    for i in range(corr.shape[0]):
        pairs = [(j, float(corr[i, j])) for j in range(corr.shape[1]) if j != i and np.isfinite(corr[i, j])]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        out.append(pairs[:k])
    return out


def _texts(tokens_list: Sequence[list[str]], family: str, tokenizer: object) -> list[str]:
    if family == "bert":  # WordPiece: "##ing" joins the previous piece
        return [tokenizer.convert_tokens_to_string(tokens) for tokens in tokens_list]  # type: ignore[attr-defined]
    return ["".join(tokens) for tokens in tokens_list]  # byte-level BPE tokens carry their spaces


# 512 windows of 64 tokens (32k tokens) rank a neuron's neighbours as well as 2000 did and
# take a quarter of the forward passes: on the 2-core machine the 2000-window job ran past RQ's
# default 180 s timeout while the first start was busy (tests/bench/bench_related_neurons.py).
RELATED_MAX_WINDOWS = 512
RELATED_JOB_TIMEOUT_S = 1800


def related_neurons_job(campaign_id: int, top_k: int = 10, max_windows: int = RELATED_MAX_WINDOWS) -> int:
    """Store each neuron's ``top_k`` most correlated neurons; returns how many neurons got some."""
    from engine.models.loading import load_model

    ctx = get_context()
    with ctx.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise ValueError(f"no campaign with id {campaign_id}")
        neurons = list(
            session.exec(select(Neuron).where(Neuron.campaign_id == campaign_id).order_by(col(Neuron.index)))
        )
        snippets = session.exec(
            select(Snippet.tokens)
            .where(col(Snippet.neuron_id).in_([n.id for n in neurons]))
            .order_by(col(Snippet.id))
        )
        windows = list(dict.fromkeys(tuple(t) for t in snippets if t))[:max_windows]
    if len(neurons) >= 2 and campaign.unit == LATENT:
        return _store_related(ctx, campaign, neurons, _related_latents(ctx, campaign, neurons, top_k))
    if len(neurons) < 2 or not windows:
        return 0
    model = load_model(campaign.model, device=ctx.settings.device, data_dir=ctx.settings.data_path)
    texts = _texts([list(w) for w in windows], model.family, model.tokenizer)
    indices = [n.index for n in neurons]
    per_text = model.activations(texts, campaign.layer, indices)
    head, tail = len(model.prefix_ids), len(model.suffix_ids)
    # Special tokens ([CLS], BOS) are not part of any window: leave them out.
    acts = np.concatenate([a[head : a.shape[0] - tail].numpy() for a in per_text], axis=0).astype(np.float64)
    related = top_related(correlations(acts), top_k)
    log.info(
        "related neurons of campaign %s: %d windows, %d tokens", campaign.name, len(windows), acts.shape[0]
    )
    return _store_related(ctx, campaign, neurons, related)


def _related_latents(
    ctx: WorkerContext, campaign: Campaign, latents: list[Neuron], top_k: int
) -> list[list[tuple[int, float]]]:
    from engine.units import LatentModel, decoder_neighbours, load_unit_model

    units = load_unit_model(
        campaign.model, campaign.source, device=ctx.settings.device, data_dir=ctx.settings.data_path
    )
    assert isinstance(units, LatentModel)
    return decoder_neighbours(units.sae, [n.index for n in latents], top_k)


def _store_related(
    ctx: WorkerContext, campaign: Campaign, units: list[Neuron], related: list[list[tuple[int, float]]]
) -> int:
    """Replace the campaign's related units: per unit, (position in ``units``, value) best first."""
    with ctx.db.session() as session:
        ids = [int(n.id or 0) for n in units]
        session.exec(delete(RelatedNeuron).where(col(RelatedNeuron.neuron_id).in_(ids)))
        for unit, pairs in zip(units, related, strict=True):
            for rank, (j, value) in enumerate(pairs):
                session.add(RelatedNeuron(neuron_id=unit.id, other_id=ids[j], rank=rank, correlation=value))
        session.commit()
    return sum(1 for pairs in related if pairs)
