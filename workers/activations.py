"""RQ job: a player's own text through a campaign neuron, answered privately to that player."""

from __future__ import annotations

from typing import Any

from engine.activations import check_text, text_activations
from engine.models import ModelError, load_model
from store.campaigns import get_campaign
from store.eventlog import publish_to_player
from workers.context import get_context


def _error(code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "request_id": request_id}


def compute_test_text(campaign: str, neuron_index: int, text: object, request_id: str) -> dict[str, Any]:
    """The answer event (``activations`` or ``error``) for one test-text request."""
    ctx = get_context()
    with ctx.db.session() as session:
        row = get_campaign(session, campaign)
    if row is None:
        return _error("bad_neuron", f"no campaign named {campaign!r}", request_id)
    if not isinstance(neuron_index, int) or not row.neuron_start <= neuron_index < row.neuron_end:
        valid = f"{row.neuron_start}-{row.neuron_end - 1}"
        return _error(
            "bad_neuron", f"neuron {neuron_index} is not in campaign {campaign} ({valid})", request_id
        )
    try:
        checked = check_text(text, ctx.settings.max_text_chars)
        model = load_model(row.model, device=ctx.settings.device, data_dir=ctx.settings.data_path)
        answer = text_activations(model, row.layer, neuron_index, checked)
    except ModelError as exc:
        return _error("bad_text", str(exc), request_id)
    return {
        "type": "activations",
        "request_id": request_id,
        "campaign": campaign,
        "neuron": neuron_index,
        **answer,
    }


def test_text_job(
    campaign: str, neuron_index: int, text: str, player_id: int | str, room_id: str, request_id: str
) -> dict[str, Any]:
    """Compute and send the answer to the player (``room_id`` is where they asked from)."""
    event = compute_test_text(campaign, neuron_index, text, request_id)
    publish_to_player(get_context().redis, player_id, event)
    return event


# Its name starts with "test": keep pytest from collecting it where a test module imports it.
test_text_job.__test__ = False  # type: ignore[attr-defined]
