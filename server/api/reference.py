"""The public, versioned read API (/api/v1) and the neuron page.

Every list is keyset-paginated (``limit`` + ``next_cursor``); every request is rate limited
(per API key from the ``X-API-Key`` header, else per client IP). The schema is served at
/api/v1/openapi.json (server/api/openapi.py). Leaderboards are served by the competition
routes; the index links to them rather than repeating them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from engine.embeddings import get_embedder
from server.api.guard import (
    Context,
    choice_param,
    guarded,
    in_db,
    int_param,
    limit_param,
    not_found,
    str_param,
)
from server.api.openapi import openapi_schema
from store import reference as ref
from store.models import Campaign, Explanation, Neuron
from store.neuron_page import neuron_page
from store.sealed import sealed_units
from store.search import full_text_search, semantic_search
from store.units import find_unit

API = "/api/v1"
CLIENT_DIR = Path(__file__).resolve().parent.parent.parent / "client"
MAX_QUERY = 500


def _campaign(session: Session, name: str) -> Campaign:
    campaign = ref.get_campaign(session, name)
    if campaign is None:
        raise not_found(f"campaign {name!r}")
    return campaign


def _neuron(session: Session, neuron_id: int) -> Neuron:
    neuron = session.get(Neuron, neuron_id)
    if neuron is None:
        raise not_found(f"neuron {neuron_id}")
    return neuron


def _explanation(session: Session, explanation_id: int) -> Explanation:
    explanation = session.get(Explanation, explanation_id)
    if explanation is None or explanation.status != "visible":
        raise not_found(f"explanation {explanation_id}")
    if explanation.neuron_id in sealed_units(session):  # a quest plays its unit (store/sealed.py)
        raise not_found(f"explanation {explanation_id}")
    return explanation


def _cursor(request: Request) -> str | None:
    return str_param(request, "cursor", 512)


# -- handlers ----------------------------------------------------------------------------
async def api_index(request: Request, ctx: Context) -> dict[str, Any]:
    return {
        "version": "v1",
        "openapi": f"{API}/openapi.json",
        "links": {
            "campaigns": f"{API}/campaigns",
            "explanations": f"{API}/explanations",
            "search": f"{API}/search",
            # Served by the competition routes (server/api/competition.py).
            "leaderboards": f"{API}/leaderboards",
        },
    }


async def campaigns(request: Request, ctx: Context) -> dict[str, Any]:
    page = await in_db(ctx, ref.list_campaigns, limit_param(request), _cursor(request))
    return page.to_json()


async def campaign(request: Request, ctx: Context) -> dict[str, Any]:
    found = await in_db(ctx, _campaign, request.path_params["campaign"])
    return ref.campaign_json(found)


async def campaign_neurons(request: Request, ctx: Context) -> dict[str, Any]:
    limit, cursor = limit_param(request, 50), _cursor(request)

    def run(session: Session) -> dict[str, Any]:
        return ref.list_neurons(
            session, _campaign(session, request.path_params["campaign"]), limit, cursor
        ).to_json()

    return await in_db(ctx, run)


async def campaign_explanations(request: Request, ctx: Context) -> dict[str, Any]:
    limit, cursor = limit_param(request), _cursor(request)

    def run(session: Session) -> dict[str, Any]:
        found = _campaign(session, request.path_params["campaign"])
        return ref.list_explanations(session, limit, cursor, campaign_id=found.id).to_json()

    return await in_db(ctx, run)


def _page_params(request: Request) -> dict[str, int]:
    return {
        "top": int_param(request, "top", 20, 0, 100),
        "random": int_param(request, "random", 10, 0, 100),
    }


async def neuron_by_index(request: Request, ctx: Context) -> dict[str, Any]:
    params = _page_params(request)
    name, index = request.path_params["campaign"], request.path_params["index"]

    def run(session: Session) -> dict[str, Any]:
        found = ref.find_neuron(session, campaign=name, index=index)
        if found is None:
            raise not_found(f"neuron {index} of campaign {name!r}")
        return neuron_page(session, *found, **params)

    return await in_db(ctx, run)


async def unit_by_identity(request: Request, ctx: Context) -> dict[str, Any]:
    """The stable URL of a unit: (model, layer, source, index), source "neurons" or an SAE's name."""
    params = _page_params(request)
    path = request.path_params
    model, layer, source, index = path["model"], path["layer"], path["source"], path["index"]
    name = str_param(request, "campaign", 128)

    def run(session: Session) -> dict[str, Any]:
        found = find_unit(session, model, layer, source, index, name)
        if found is None:
            raise not_found(f"unit {index} of {source} on layer {layer} of {model!r}")
        return neuron_page(session, *found, **params)

    return await in_db(ctx, run)


async def neuron_by_id(request: Request, ctx: Context) -> dict[str, Any]:
    params = _page_params(request)

    def run(session: Session) -> dict[str, Any]:
        found = ref.find_neuron(session, neuron_id=request.path_params["neuron_id"])
        if found is None:
            raise not_found(f"neuron {request.path_params['neuron_id']}")
        return neuron_page(session, *found, **params)

    return await in_db(ctx, run)


async def neuron_activations(request: Request, ctx: Context) -> dict[str, Any]:
    kind = choice_param(request, "kind", ("top", "random"), None)
    limit, cursor = limit_param(request), _cursor(request)

    def run(session: Session) -> dict[str, Any]:
        neuron = _neuron(session, request.path_params["neuron_id"])
        return ref.list_records(session, neuron, kind, limit, cursor).to_json()

    return await in_db(ctx, run)


async def neuron_explanations(request: Request, ctx: Context) -> dict[str, Any]:
    limit, cursor = limit_param(request), _cursor(request)

    def run(session: Session) -> dict[str, Any]:
        neuron = _neuron(session, request.path_params["neuron_id"])
        return ref.list_explanations(session, limit, cursor, neuron_id=neuron.id).to_json()

    return await in_db(ctx, run)


async def neuron_related(request: Request, ctx: Context) -> dict[str, Any]:
    def run(session: Session) -> dict[str, Any]:
        neuron = _neuron(session, request.path_params["neuron_id"])
        return {"items": ref.related_neurons(session, int(neuron.id or 0))}

    return await in_db(ctx, run)


async def explanations(request: Request, ctx: Context) -> dict[str, Any]:
    page = await in_db(ctx, ref.list_explanations, limit_param(request), _cursor(request))
    return page.to_json()


async def explanation(request: Request, ctx: Context) -> dict[str, Any]:
    found = await in_db(ctx, ref.get_explanation, request.path_params["explanation_id"])
    if found is None:
        raise not_found(f"explanation {request.path_params['explanation_id']}")
    return found


async def explanation_scores(request: Request, ctx: Context) -> dict[str, Any]:
    limit, cursor = limit_param(request), _cursor(request)

    def run(session: Session) -> dict[str, Any]:
        found = _explanation(session, request.path_params["explanation_id"])
        return ref.list_scores(session, int(found.id or 0), limit, cursor).to_json()

    return await in_db(ctx, run)


async def explanation_votes(request: Request, ctx: Context) -> dict[str, Any]:
    limit, cursor = limit_param(request), _cursor(request)

    def run(session: Session) -> dict[str, Any]:
        found = _explanation(session, request.path_params["explanation_id"])
        return ref.list_votes(session, int(found.id or 0), limit, cursor).to_json()

    return await in_db(ctx, run)


async def search(request: Request, ctx: Context) -> dict[str, Any]:
    query = str_param(request, "q", MAX_QUERY, required=True) or ""
    mode = choice_param(request, "mode", ("text", "semantic"), "text")
    name = str_param(request, "campaign", 128)
    limit, cursor = limit_param(request), _cursor(request)
    vector = None
    if mode == "semantic":
        # The embedder loads once per process; the forward pass blocks, so off the event loop.
        embedder = await run_in_threadpool(get_embedder)
        vector = (await run_in_threadpool(embedder.embed, [query]))[0]

    def run(session: Session) -> dict[str, Any]:
        campaign_id = _campaign(session, name).id if name else None
        if vector is None:
            page = full_text_search(session, query, campaign_id=campaign_id, limit=limit, cursor=cursor)
        else:
            page = semantic_search(
                session, vector, get_embedder().name, campaign_id=campaign_id, limit=limit, cursor=cursor
            )
        return {"mode": mode, "query": query, **page.to_json()}

    return await in_db(ctx, run)


async def openapi(request: Request, ctx: Context) -> dict[str, Any]:
    return openapi_schema()


async def neuron_html(request: Request) -> Response:
    return FileResponse(CLIENT_DIR / "neuron.html")


async def neurons_index_html(request: Request) -> Response:
    """/neurons (campaigns) and /neurons/<campaign> (its neurons): one page, read from the API."""
    return FileResponse(CLIENT_DIR / "neurons.html")


def _search_cost(ctx: Context) -> float:
    return ctx.settings.api_semantic_cost


def _search_endpoint() -> Any:
    plain, semantic = guarded(search), guarded(search, _search_cost)

    async def endpoint(request: Request) -> Response:
        # Semantic search runs a model: it takes more tokens from the bucket.
        chosen = semantic if request.query_params.get("mode") == "semantic" else plain
        return await chosen(request)

    return endpoint


routes: list[BaseRoute] = [
    Route(API, guarded(api_index)),
    Route(f"{API}/openapi.json", guarded(openapi)),
    Route(f"{API}/campaigns", guarded(campaigns)),
    Route(f"{API}/campaigns/{{campaign}}", guarded(campaign)),
    Route(f"{API}/campaigns/{{campaign}}/neurons", guarded(campaign_neurons)),
    Route(f"{API}/campaigns/{{campaign}}/neurons/{{index:int}}", guarded(neuron_by_index)),
    Route(f"{API}/campaigns/{{campaign}}/explanations", guarded(campaign_explanations)),
    Route(f"{API}/units/{{model}}/{{layer:int}}/{{source}}/{{index:int}}", guarded(unit_by_identity)),
    Route(f"{API}/neurons/{{neuron_id:int}}", guarded(neuron_by_id)),
    Route(f"{API}/neurons/{{neuron_id:int}}/activations", guarded(neuron_activations)),
    Route(f"{API}/neurons/{{neuron_id:int}}/explanations", guarded(neuron_explanations)),
    Route(f"{API}/neurons/{{neuron_id:int}}/related", guarded(neuron_related)),
    Route(f"{API}/explanations", guarded(explanations)),
    Route(f"{API}/explanations/{{explanation_id:int}}", guarded(explanation)),
    Route(f"{API}/explanations/{{explanation_id:int}}/scores", guarded(explanation_scores)),
    Route(f"{API}/explanations/{{explanation_id:int}}/votes", guarded(explanation_votes)),
    Route(f"{API}/search", _search_endpoint()),
    # The browser page; it reads everything from the API above.
    Route("/neurons/{campaign}/{index:int}", neuron_html),
    Route("/units/{model}/{layer:int}/{source}/{index:int}", neuron_html),
    Route("/neurons", neurons_index_html),
    Route("/neurons/{campaign}", neurons_index_html),
]
