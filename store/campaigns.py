"""Campaigns in SQL: a campaign row, one Neuron row per mined neuron, its Snippets (top/random)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from engine.records import ActivationRecord
from store.models import Campaign, Neuron, Snippet, utcnow
from store.units import NEURON, NEURONS, check_unit, default_source_kind

if TYPE_CHECKING:
    from engine.mining import NeuronSummary


@dataclass(frozen=True)
class CampaignInfo:
    name: str
    model: str
    layer: int
    neuron_start: int
    neuron_end: int
    neurons_mined: int
    tokens_seen: int
    status: str
    corpus: str
    unit: str = "neuron"
    source: str = "neurons"

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def get_campaign(session: Session, name: str) -> Campaign | None:
    return session.exec(select(Campaign).where(Campaign.name == name)).first()


def start_campaign(
    session: Session,
    *,
    name: str,
    model: str,
    layer: int,
    neuron_start: int,
    neuron_end: int,
    corpus: str,
    window: int,
    unit: str = NEURON,
    source: str = NEURONS,
    source_kind: str | None = None,
) -> Campaign:
    """The campaign row in state "building": created, or the existing unfinished one (resume).

    Raises ValueError when a finished campaign has this name, or a building one was
    started with other parameters (resuming it with these would mix two builds).
    """
    kind = default_source_kind(unit) if source_kind is None else source_kind
    check_unit(unit, source, kind)
    existing = get_campaign(session, name)
    if existing is not None:
        if existing.status == "ready":
            raise ValueError(f"campaign {name!r} already exists; pick another --name")
        was = (existing.model, existing.layer, existing.unit, existing.source)
        same = (*was, existing.neuron_start, existing.neuron_end) == (
            model,
            layer,
            unit,
            source,
            neuron_start,
            neuron_end,
        )
        if not same:
            raise ValueError(
                f"campaign {name!r} is being built with model {existing.model} layer {existing.layer} "
                f"{existing.source} {existing.neuron_start}-{existing.neuron_end - 1}; "
                "resume it with those or pick another name"
            )
        existing.status = "building"
        existing.updated_at = utcnow()
        session.add(existing)
        session.commit()
        return existing
    campaign = Campaign(
        name=name,
        model=model,
        layer=layer,
        unit=unit,
        source=source,
        source_kind=kind,
        corpus=corpus[:512],
        window=window,
        neuron_start=neuron_start,
        neuron_end=neuron_end,
        status="building",
    )
    session.add(campaign)
    session.commit()
    session.refresh(campaign)
    return campaign


def _snippet(neuron_id: int, record: ActivationRecord, kind: str, rank: int) -> Snippet:
    return Snippet(
        neuron_id=neuron_id,
        kind=kind,
        rank=rank,
        tokens=list(record.tokens),
        activations=[float(a) for a in record.activations],
        max_activation=record.max_activation,
        max_index=record.max_index,
        display=record.meta.get("display"),
    )


def finish_campaign(
    session: Session, campaign: Campaign, summaries: Sequence[NeuronSummary], tokens_seen: int
) -> None:
    """Write every neuron with its snippets and mark the campaign ready, in one transaction."""
    assert campaign.id is not None
    old = select(Neuron.id).where(Neuron.campaign_id == campaign.id)
    session.exec(delete(Snippet).where(col(Snippet.neuron_id).in_(old)))  # type: ignore[call-overload]
    session.exec(delete(Neuron).where(col(Neuron.campaign_id) == campaign.id))  # type: ignore[call-overload]
    for summary in summaries:
        neuron = Neuron(
            campaign_id=campaign.id,
            index=summary.index,
            max_activation=summary.max_activation,
            mean_activation=summary.mean_activation,
            frac_active=summary.frac_active,
            histogram=summary.histogram,
        )
        session.add(neuron)
        session.flush()
        assert neuron.id is not None
        for rank, record in enumerate(summary.top):
            session.add(_snippet(neuron.id, record, "top", rank))
        for rank, record in enumerate(summary.random):
            session.add(_snippet(neuron.id, record, "random", rank))
    campaign.tokens_seen = tokens_seen
    campaign.status = "ready"
    campaign.updated_at = utcnow()
    session.add(campaign)
    session.commit()


def mark_failed(session: Session, name: str) -> None:
    campaign = get_campaign(session, name)
    if campaign is not None and campaign.status != "ready":
        campaign.status = "failed"
        campaign.updated_at = utcnow()
        session.add(campaign)
        session.commit()


def list_campaigns(session: Session) -> list[CampaignInfo]:
    counts = dict(
        session.exec(select(Neuron.campaign_id, func.count()).group_by(Neuron.campaign_id)).all()  # type: ignore[arg-type]
    )
    out = []
    for c in session.exec(select(Campaign).order_by(col(Campaign.created_at), col(Campaign.id))).all():
        out.append(
            CampaignInfo(
                name=c.name,
                model=c.model,
                layer=c.layer,
                neuron_start=c.neuron_start,
                neuron_end=c.neuron_end,
                neurons_mined=int(counts.get(c.id, 0)),
                tokens_seen=c.tokens_seen,
                status=c.status,
                corpus=c.corpus,
                unit=c.unit,
                source=c.source,
            )
        )
    return out


def room_campaign(session: Session, name: str) -> Campaign:
    """The campaign a new room asked to play: installed (mined and ready), else ValueError that
    names the ones there are."""
    campaign = get_campaign(session, name)
    if campaign is not None and campaign.status == "ready":
        return campaign
    ready = session.exec(select(Campaign.name).where(Campaign.status == "ready").order_by(col(Campaign.name)))
    names = ", ".join(ready) or "none yet"
    what = f"unknown campaign {name!r}" if campaign is None else f"campaign {name!r} is not ready"
    raise ValueError(f"{what}: the installed campaigns are {names}")


def get_neuron(session: Session, campaign_name: str, index: int) -> Neuron | None:
    query = (
        select(Neuron)
        .join(Campaign, col(Campaign.id) == col(Neuron.campaign_id))
        .where(Campaign.name == campaign_name, Neuron.index == index)
    )
    return session.exec(query).first()


def neuron_records(session: Session, neuron_id: int) -> tuple[list[ActivationRecord], list[ActivationRecord]]:
    """(top records by rank, random records by rank) of one neuron."""
    rows = session.exec(
        select(Snippet).where(Snippet.neuron_id == neuron_id).order_by(col(Snippet.kind), col(Snippet.rank))
    ).all()
    top: list[ActivationRecord] = []
    rand: list[ActivationRecord] = []
    for row in rows:
        record = ActivationRecord(tokens=list(row.tokens), activations=list(row.activations), kind=row.kind)
        (top if row.kind == "top" else rand).append(record)
    return top, rand
