"""What a campaign's puzzles are: a unit's identity (model, layer, source, index) and its name.

A campaign serves one kind of unit (store/models.py Campaign.unit and .source):

- ``neuron``: the MLP neurons of ``layer``; source ``"neurons"``;
- ``latent``: the latents of the sparse autoencoder (or transcoder) named ``source`` attached to
  ``layer`` (engine/units.py LatentModel; its weights in data_dir/saes/<source>/). Which of
  the two the source is, ``source_kind`` says ("sae" or "transcoder"): a transcoder's
  features are read at the MLP's input and rebuild its output, and every label says so.

Every view of a unit — puzzles, reference pages, the API, search, exports — names it with
``unit_identity``, so a reader (and a program) always sees which of the two it is looking at.
Players see latents called "features" (``unit_word``).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from store.models import Campaign, Neuron

NEURON, LATENT = "neuron", "latent"
UNITS = (NEURON, LATENT)
NEURONS = "neurons"  # the source of every neuron campaign
SAE, TRANSCODER = "sae", "transcoder"
SOURCE_KINDS = {NEURON: (NEURONS,), LATENT: (SAE, TRANSCODER)}  # a unit's possible source kinds
SOURCE_WORD = {NEURONS: "neurons", SAE: "SAE", TRANSCODER: "transcoder"}  # how labels name them


def check_unit(unit: str, source: str, source_kind: str | None = None) -> None:
    """ValueError unless (unit, source) is a neuron campaign's or an SAE's (or transcoder's)
    pair, and ``source_kind`` (when given) fits the unit."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}")
    if (unit == NEURON) != (source == NEURONS):
        raise ValueError(f"a {unit} campaign cannot have source {source!r}")
    if not source or "/" in source or len(source) > 128:
        raise ValueError(f"bad unit source {source!r}: a name without '/', at most 128 characters")
    if source_kind is not None and source_kind not in SOURCE_KINDS[unit]:
        kinds = ", ".join(SOURCE_KINDS[unit])
        raise ValueError(f"a {unit} campaign's source is one of {kinds}, not {source_kind!r}")


def default_source_kind(unit: str) -> str:
    """The source kind of a campaign that predates the column: neurons, or an SAE's latents."""
    return SAE if unit == LATENT else NEURONS


def source_kind_of(campaign: Campaign) -> str:
    """What the campaign's source is: "neurons", "sae" or "transcoder"."""
    return campaign.source_kind or default_source_kind(campaign.unit)


def unit_word(unit: str) -> str:
    """What players call the unit: a latent is a "feature"."""
    return "feature" if unit == LATENT else "neuron"


def unit_label(unit: str, source: str, model: str, layer: int, index: int, source_kind: str = SAE) -> str:
    """One line that says which unit this is, e.g. "Feature 12 of SAE s on layer 3 of minilm-l6"
    or "Feature 12 of transcoder t on layer 3 of gpt2"."""
    if unit == LATENT:
        return (
            f"Feature {index} of {SOURCE_WORD.get(source_kind, 'SAE')} {source} on layer {layer} of {model}"
        )
    return f"Neuron {index} of layer {layer} of {model}"


def unit_identity(campaign: Campaign, index: int) -> dict[str, Any]:
    """The unit's key and name, as every view shows it."""
    return {
        "unit": campaign.unit,
        "source": campaign.source,
        "source_kind": source_kind_of(campaign),
        "model": campaign.model,
        "layer": campaign.layer,
        "index": index,
        "word": unit_word(campaign.unit),
        "label": unit_label(
            campaign.unit, campaign.source, campaign.model, campaign.layer, index, source_kind_of(campaign)
        ),
    }


def words_of(session: Session, neuron_ids: list[int]) -> list[str]:
    """What players call each of these units ("neuron" or "feature"), in order."""
    rows = session.exec(
        select(Neuron.id, Campaign.unit)
        .join(Campaign, col(Neuron.campaign_id) == Campaign.id)
        .where(col(Neuron.id).in_(neuron_ids))
    )
    unit_of = {int(i or 0): u for i, u in rows}
    return [unit_word(unit_of.get(n, NEURON)) for n in neuron_ids]


def find_unit(
    session: Session, model: str, layer: int, source: str, index: int, campaign: str | None = None
) -> tuple[Neuron, Campaign] | None:
    """The unit (model, layer, source, index): in ``campaign`` when named, else in the oldest
    ready campaign that holds it (a later campaign of the same unit never moves its URL)."""
    query = (
        select(Neuron, Campaign)
        .join(Campaign, col(Neuron.campaign_id) == Campaign.id)
        .where(Campaign.model == model, Campaign.layer == layer, Campaign.source == source)
        .where(Neuron.index == index)
    )
    if campaign is not None:
        query = query.where(Campaign.name == campaign)
    else:
        query = query.where(Campaign.status == "ready")
    row = session.exec(query.order_by(col(Campaign.created_at), col(Campaign.id))).first()
    return (row[0], row[1]) if row else None
