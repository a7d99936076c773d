"""RQ job: players' own texts through campaign neurons, answered privately to each player.

Concurrent requests of one campaign share forward passes: a job answers its own request and
up to ``test_text_batch_max - 1`` others waiting on the campaign's list as one padded batch
(workers/advanced_requests.py says how requests are claimed exactly once).
"""

from __future__ import annotations

from typing import Any

from config.errors import ERR_BAD_NEURON, ERR_BAD_TEXT, ERR_INTERNAL
from engine.activations import batch_text_activations, check_text
from engine.models import ModelError
from engine.units import load_unit_model
from store.campaigns import get_campaign
from store.eventlog import publish_to_player
from store.units import unit_word
from workers.advanced_requests import AdvancedRequest, claim, take
from workers.context import WorkerContext, get_context


def _error(code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "request_id": request_id}


def _activations(request: AdvancedRequest, answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "activations",
        "request_id": request.request_id,
        "campaign": request.campaign,
        "neuron": request.neuron_index,
        **answer,
    }


def compute_test_texts(
    ctx: WorkerContext, campaign: str, requests: list[AdvancedRequest]
) -> list[dict[str, Any]]:
    """The answer event (``activations`` or ``error``) for each request of one campaign, in order."""
    with ctx.db.session() as session:
        row = get_campaign(session, campaign)
    if row is None:
        return [_error(ERR_BAD_NEURON, f"no campaign named {campaign!r}", req.request_id) for req in requests]
    events: dict[int, dict[str, Any]] = {}
    batch: list[tuple[int, AdvancedRequest]] = []
    for i, req in enumerate(requests):
        index = req.neuron_index
        if not isinstance(index, int) or not row.neuron_start <= index < row.neuron_end:
            valid = f"{row.neuron_start}-{row.neuron_end - 1}"
            message = f"{unit_word(row.unit)} {index} is not in campaign {campaign} ({valid})"
            events[i] = _error(ERR_BAD_NEURON, message, req.request_id)
            continue
        try:
            check_text(req.text, ctx.settings.max_text_chars)
        except ModelError as exc:
            events[i] = _error(ERR_BAD_TEXT, str(exc), req.request_id)
            continue
        batch.append((i, req))
    if batch:
        try:
            # The campaign's units: the model's neurons, or its SAE's latents (engine/units.py).
            model = load_unit_model(
                row.model, row.source, device=ctx.settings.device, data_dir=ctx.settings.data_path
            )
            answers = batch_text_activations(model, row.layer, [(r.neuron_index, r.text) for _, r in batch])
        except ModelError as exc:  # the campaign's model or layer: every request gets it
            answers = [exc] * len(batch)
        for (i, req), answer in zip(batch, answers, strict=True):
            if isinstance(answer, ModelError):
                events[i] = _error(ERR_BAD_TEXT, str(answer), req.request_id)
            else:
                events[i] = _activations(req, answer)
    return [events[i] for i in range(len(requests))]


def test_text_job(
    campaign: str,
    neuron_index: int,
    text: str,
    player_id: int | str,
    room_id: str,
    request_id: str,
    batch_entry: str | None = None,
) -> dict[str, Any]:
    """Compute and send the answer to the player (``room_id`` is where they asked from), and
    to every other waiting request this job takes into its batch.

    ``batch_entry`` is the request's entry on the campaign's pending list (workers/
    advanced_requests.py); without one (a direct call) the request is answered alone.
    Returns this request's answer, or ``{"answered_by": "another job"}``.
    """
    ctx = get_context()
    own = AdvancedRequest(campaign, neuron_index, text, player_id, room_id, request_id)
    requests = [own]
    if batch_entry is not None:
        if not claim(ctx.redis, campaign, batch_entry):
            return {"answered_by": "another job"}
        requests += take(ctx.redis, ctx.settings, campaign, ctx.settings.test_text_batch_max - 1)
    try:
        events = compute_test_texts(ctx, campaign, requests)
    except Exception as exc:
        # Nothing would answer these players otherwise: each gets an error, then RQ records the failure.
        reason = f"the worker failed ({type(exc).__name__}); try again"
        events = [_error(ERR_INTERNAL, reason, req.request_id) for req in requests]
        _publish(ctx, requests, events)
        raise
    _publish(ctx, requests, events)
    return events[0]


def _publish(ctx: WorkerContext, requests: list[AdvancedRequest], events: list[dict[str, Any]]) -> None:
    for req, event in zip(requests, events, strict=True):
        publish_to_player(ctx.redis, req.player_id, event)


# Its name starts with "test": keep pytest from collecting it where a test module imports it.
test_text_job.__test__ = False  # type: ignore[attr-defined]
