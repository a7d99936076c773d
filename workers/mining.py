"""Building campaigns: the one routine the CLI and the RQ job share, plus the default campaign.

A build writes the campaign row first (status "building", so lists show it), mines with a
checkpoint in data_dir/campaigns/, then writes every neuron and snippet in one transaction
and marks it "ready". Stopped builds are "paused" and resume from the checkpoint when
started again with the same arguments; crashed ones are "failed" and resume the same way.
"""

from __future__ import annotations

import fcntl
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from rq import get_current_job

from config import keys
from config.settings import Settings
from engine.corpus import corpus_label, corpus_windows, resolve_corpus
from engine.mining import Miner, MiningInterrupted, MiningProgress
from engine.models import load_model
from engine.units import LatentModel, UnitModel, install_sae, load_unit_model
from store.campaigns import finish_campaign, get_campaign, list_campaigns, mark_failed, start_campaign
from store.db import Database
from store.models import utcnow
from store.units import LATENT, NEURON, NEURONS, SAE, TRANSCODER
from workers.context import WorkerContext, get_context
from workers.queues import default_queue

log = logging.getLogger(__name__)

WINDOW = 64
LOCK_TTL_S = 600
# Neurons whose machine explanations are queued before the related-neurons job: the first
# puzzles are playable within seconds of the build, and the neuron pages' related neurons
# follow them instead of waiting behind the whole campaign's seeding.
FIRST_SEEDED = 16


def checkpoint_path(settings: Settings, name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return settings.data_path / "campaigns" / f"{safe}.ckpt"


@contextmanager
def _build_lock(settings: Settings, name: str) -> Iterator[None]:
    """One build per campaign on this data dir, whether started from the CLI or a worker.

    An OS file lock: released by the kernel when the process dies, so a crash never leaves
    a campaign locked. (Workers on other machines are kept apart by the Redis lock too.)
    """
    path = checkpoint_path(settings, name).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"campaign {name!r} is already being built by another process") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _set_status(db: Database, name: str, status: str) -> None:
    with db.session() as session:
        campaign = get_campaign(session, name)
        if campaign is not None and campaign.status != "ready":
            campaign.status = status
            campaign.updated_at = utcnow()
            session.add(campaign)
            session.commit()


def build_campaign(
    settings: Settings,
    db: Database,
    *,
    name: str,
    model: str,
    layer: int | None,
    neuron_start: int | None = None,
    neuron_end: int | None = None,
    corpus: str | None = None,
    max_tokens: int = 0,
    on_progress: Callable[[MiningProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int | None = None,
    sae: str | None = None,
) -> int:
    """Mine and store one campaign; returns the number of units written.

    Its units are the layer's neurons, or with ``sae`` (a stored SAE's name or an SAE
    directory, engine/units.py install_sae) that SAE's latents: the layer is the SAE's (None
    takes it; another is refused), the windows and batches the same as for neurons.
    Raises ModelError / CorpusError / ValueError for bad arguments before anything is
    written, MiningInterrupted or KeyboardInterrupt when stopped (state kept to resume).
    """
    base = load_model(model, device=settings.device, data_dir=settings.data_path)
    units: UnitModel = base
    unit, source, source_kind = NEURON, NEURONS, NEURONS
    if sae is not None:
        source = install_sae(settings.data_path, sae)
        units = load_unit_model(model, source, device=settings.device, data_dir=settings.data_path)
        assert isinstance(units, LatentModel)
        unit, source_kind = LATENT, (TRANSCODER if units.sae.is_transcoder else SAE)
        layer = units.layer if layer is None else layer
    if layer is None:
        raise ValueError("a layer is needed (or an SAE, whose layer it is)")
    units.check_layer(layer)
    start = 0 if neuron_start is None else neuron_start
    end = units.n_neurons if neuron_end is None else neuron_end
    neurons = range(start, end)
    units.neuron_index(neurons)
    if max_tokens < 0:
        raise ValueError("max tokens must be 0 (the whole corpus) or more")
    resolve_corpus(corpus)
    with _build_lock(settings, name):
        # The model's windows whatever the unit: neurons and latents are mined from the same text.
        # With each window's text as the corpus wrote it, which the records keep for display.
        cut = corpus_windows(base, corpus, window=WINDOW, max_tokens=max_tokens)
        windows = cut.ids
        with db.session() as session:
            campaign = start_campaign(
                session,
                name=name,
                model=model,
                layer=layer,
                neuron_start=start,
                neuron_end=end,
                corpus=corpus_label(corpus),
                window=WINDOW,
                unit=unit,
                source=source,
                source_kind=source_kind,
            )
        miner = Miner(
            units,
            windows,
            layer,
            neurons,
            checkpoint=checkpoint_path(settings, name),
            batch_size=batch_size,
            display=cut.display,
        )
        try:
            summaries = miner.run(on_progress=on_progress, should_stop=should_stop)
        except (KeyboardInterrupt, MiningInterrupted):
            _set_status(db, name, "paused")
            raise
        except Exception:
            with db.session() as session:
                mark_failed(session, name)
            raise
        with db.session() as session:
            finish_campaign(session, campaign, summaries, miner.total_tokens)
        checkpoint_path(settings, name).unlink(missing_ok=True)
        return len(summaries)


def build_campaign_job(
    name: str,
    model: str,
    layer: int | None,
    neuron_start: int | None,
    neuron_end: int | None,
    corpus: str | None,
    max_tokens: int,
    sae: str | None = None,
) -> dict[str, Any]:
    """RQ job: build a campaign (of ``sae``'s latents when named), streaming progress events
    on the job's progress channel."""
    ctx = get_context()
    job = get_current_job()
    channel = keys.job_progress_channel(job.id) if job is not None else None
    lock = keys.campaign_build_lock(name)

    def publish(event: dict[str, Any]) -> None:
        if channel is not None:
            ctx.redis.publish(channel, orjson.dumps(event))

    if not ctx.redis.set(lock, job.id if job else "local", nx=True, ex=LOCK_TTL_S):
        event = {"type": "failed", "error": f"campaign {name!r} is already being built"}
        publish(event)
        return event

    def progress(p: MiningProgress) -> None:
        ctx.redis.expire(lock, LOCK_TTL_S)  # still alive: keep the lock
        event = p.to_event()
        publish(event)
        # The browser's "preparing puzzles" banner reads the latest one (server/api/first_start.py).
        ctx.redis.set(keys.campaign_progress(name), orjson.dumps(event), ex=LOCK_TTL_S)

    try:
        n = build_campaign(
            ctx.settings,
            ctx.db,
            name=name,
            model=model,
            layer=layer,
            neuron_start=neuron_start,
            neuron_end=neuron_end,
            corpus=corpus,
            max_tokens=max_tokens,
            on_progress=progress,
            sae=sae,
        )
    except Exception as exc:
        publish({"type": "failed", "error": str(exc) or type(exc).__name__})
        raise
    finally:
        ctx.redis.delete(lock)
    event = {"type": "done", "campaign": name, "neurons": n}
    publish(event)
    # Both on the background queue, in this order: the first puzzles' machine explanations (a
    # few seconds each), then the related neurons (one job, under a minute), then the rest.
    _seed_explanations(ctx, name, between=lambda: _enqueue_related_neurons(ctx, name))
    return event


def _enqueue_related_neurons(ctx: WorkerContext, name: str) -> None:
    """Neuron pages show related neurons: compute them for the new campaign, in the background."""
    try:
        with ctx.db.session() as session:
            campaign = get_campaign(session, name)
        if campaign is not None and campaign.id is not None:
            queue = default_queue(ctx.redis, ctx.settings)
            from workers.reference import RELATED_JOB_TIMEOUT_S

            # Its own timeout: RQ's default (180 s) is shorter than a busy first start needs.
            queue.enqueue(
                "workers.reference.related_neurons_job", campaign.id, job_timeout=RELATED_JOB_TIMEOUT_S
            )
    except Exception:  # like seeding: a finished build stays finished
        log.exception("could not enqueue related neurons for campaign %s", name)


def _seed_explanations(ctx: WorkerContext, name: str, between: Callable[[], None]) -> None:
    """New puzzles get a few scored machine explanations (Settings.seed_machine_explanations);
    ``between`` is queued after the first FIRST_SEEDED neurons' seeding."""
    from workers.explaining import enqueue_campaign_seeding

    ran: list[bool] = []

    def once() -> None:
        if not ran:
            ran.append(True)
            between()

    try:
        enqueue_campaign_seeding(ctx.redis, ctx.settings, ctx.db, name, first=FIRST_SEEDED, between=once)
    except Exception:  # a failed seeding must not turn a finished build into a failed job
        log.exception("could not enqueue machine explanations for campaign %s", name)
    once()  # queued whatever happened to the seeding


# -- the default campaign ------------------------------------------------------
def default_campaign_missing(settings: Settings, db: Database) -> bool:
    """True until the default campaign has been mined completely."""
    with db.session() as session:
        campaign = get_campaign(session, settings.default_campaign)
    return campaign is None or campaign.status != "ready"


def ensure_default_campaign(
    settings: Settings, db: Database, on_progress: Callable[[MiningProgress], None] | None = None
) -> bool:
    """Mine the default campaign if it is missing (resuming a stopped build); True if it mined."""
    if not default_campaign_missing(settings, db):
        return False
    build_campaign(
        settings,
        db,
        name=settings.default_campaign,
        model=settings.default_model,
        layer=settings.default_layer,
        neuron_start=0,
        neuron_end=settings.default_neurons,
        corpus=None,
        max_tokens=settings.default_max_tokens,
        on_progress=on_progress,
    )
    return True


def ensure_default_campaign_job() -> dict[str, Any]:
    """RQ job form of ``ensure_default_campaign``, with the same progress events as a build."""
    ctx = get_context()
    if not default_campaign_missing(ctx.settings, ctx.db):
        with ctx.db.session() as session:
            mined = {c.name: c.neurons_mined for c in list_campaigns(session)}
        return {
            "type": "done",
            "campaign": ctx.settings.default_campaign,
            "neurons": mined[ctx.settings.default_campaign],
        }
    s = ctx.settings
    return build_campaign_job(
        s.default_campaign, s.default_model, s.default_layer, 0, s.default_neurons, None, s.default_max_tokens
    )
