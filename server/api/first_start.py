"""``GET /api/status``: is the default campaign ready to play, and how far its first mining is.

The lobby polls it on a fresh install (client/js/firststart.js) to show "Preparing puzzles: 43%"
and to tell the quest cards when they open. The mining job stores its latest progress event
under config.keys.campaign_progress (workers/mining.py); the campaign row says when it is done.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from config import keys
from store.campaigns import get_campaign
from store.units import unit_word


def _status(request: Request) -> dict[str, Any]:
    ctx = request.app.state.ctx
    name = ctx.settings.default_campaign
    with ctx.db.session() as s:
        campaign = get_campaign(s, name)
        state = campaign.status if campaign is not None else "missing"
        # What players call its puzzles ("neuron" or "feature"): the lobby's words before a round.
        word = unit_word(campaign.unit) if campaign is not None else "neuron"
    ready = state == "ready"
    body: dict[str, Any] = {"campaign": name, "ready": ready, "state": state, "percent": 100 if ready else 0}
    body["word"] = word
    raw = None if ready else ctx.r_sync.get(keys.campaign_progress(name))
    if raw:
        event = orjson.loads(raw)
        total = max(1, int(event.get("total") or 1))
        body["percent"] = min(99, int(100 * int(event.get("tokens") or 0) / total))
        body["eta_s"] = round(float(event.get("eta_s") or 0))
    return body


async def status(request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(_status, request))


routes: list[BaseRoute] = [Route("/api/status", status, methods=["GET"])]
