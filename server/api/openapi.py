"""The OpenAPI 3.0 description of /api/v1, served at /api/v1/openapi.json.

Written by hand (the routes are plain Starlette) and checked against the running app by
schemathesis in tests/server/test_schemathesis_reference.py.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

MAX_ID = 2**31 - 1


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or list(props)}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
NUMS = {"type": "array", "items": NUM}
# What a campaign's puzzles are (store/units.py): MLP neurons, or latents of an SAE / transcoder.
UNIT = {"type": "string", "enum": ["neuron", "latent"]}
SOURCE_KIND = {"type": "string", "enum": ["neurons", "sae", "transcoder"]}


def _page(item: str) -> dict[str, Any]:
    return _obj(
        {"items": {"type": "array", "items": _ref(item)}, "next_cursor": _nullable(STR)},
        ["items", "next_cursor"],
    )


SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": STR, "message": STR}),
    "Index": _obj({"version": STR, "openapi": STR, "links": {"type": "object"}}),
    "Campaign": _obj(
        {
            "name": STR,
            "model": STR,
            "layer": INT,
            "unit": UNIT,
            "source": STR,
            "source_kind": SOURCE_KIND,
            "corpus": STR,
            "window": INT,
            "neuron_start": INT,
            "neuron_end": INT,
            "tokens_seen": INT,
            "status": STR,
            "created_at": _nullable(STR),
        }
    ),
    "Neuron": _obj(
        {
            "id": INT,
            "campaign": STR,
            "unit": UNIT,
            "source": STR,
            "source_kind": SOURCE_KIND,
            "model": STR,
            "layer": INT,
            "index": INT,
            # "neuron" or "feature" (a latent), and one line naming the unit for readers.
            "word": {"type": "string", "enum": ["neuron", "feature"]},
            "label": STR,
            "max_activation": NUM,
            "mean_activation": NUM,
            "frac_active": NUM,
            "records_version": INT,
        }
    ),
    "Record": _obj(
        {
            "id": INT,
            "kind": STR,
            "rank": INT,
            "tokens": {"type": "array", "items": STR},
            # Each token as a reader sees it (spaces right, special tokens empty).
            "display": {"type": "array", "items": STR},
            "activations": NUMS,
            "shades": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 10}},
            "max_activation": NUM,
            "max_index": INT,
        }
    ),
    "Score": _obj(
        {
            "id": INT,
            "explanation_id": INT,
            "simulator": STR,
            "version": STR,
            "records_version": INT,
            "score": _nullable(NUM),
            "per_record": {"type": "array", "items": _nullable(NUM)},
            "detail": {"type": "object"},
            "created_at": _nullable(STR),
        }
    ),
    "Explanation": _obj(
        {
            "id": INT,
            "neuron_id": INT,
            "text": STR,
            "author": _nullable(STR),
            "source": STR,
            "created_at": _nullable(STR),
            "votes": INT,
            "audience_votes": INT,
            "best_score": {**_ref("Score"), "nullable": True},
            "scores": {"type": "array", "items": _ref("Score")},
        }
    ),
    "Vote": _obj({"id": INT, "voter": STR, "audience": BOOL, "created_at": _nullable(STR)}),
    "Related": _obj(
        {
            "id": INT,
            "index": INT,
            "correlation": NUM,
            "measure": {"type": "string", "enum": ["activation_correlation", "decoder_cosine"]},
            "computed_at": _nullable(STR),
        }
    ),
    "HistoryEntry": _obj(
        {"explanation_id": INT, "author": _nullable(STR), "text": STR, "source": STR, "created_at": STR}
    ),
    "NeuronRef": _obj(
        {"id": INT, "campaign": STR, "index": INT, "unit": UNIT, "source": STR, "model": STR, "layer": INT}
    ),
    "NeuronArticle": _obj(
        {
            "neuron": _ref("Neuron"),
            "stats": _obj(
                {
                    "max_activation": NUM,
                    "mean_activation": NUM,
                    "firing_frequency": NUM,
                    "histogram": {"type": "object"},
                    "tokens_seen": INT,
                }
            ),
            "shade_scale": NUM,
            "top_records": {"type": "array", "items": _ref("Record")},
            "random_records": {"type": "array", "items": _ref("Record")},
            "explanations": {"type": "array", "items": _ref("Explanation")},
            "explanation_count": INT,
            "history": {"type": "array", "items": _ref("HistoryEntry")},
            "related": {"type": "array", "items": _ref("Related")},
            # Set while a quest plays the unit: its explanations are left out until then.
            "sealed": _nullable(_obj({"until": STR, "reason": STR})),
        }
    ),
    "SearchHit": {
        "type": "object",
        "description": "text: an explanation and its relevance; semantic: a neuron and its similarity",
        "properties": {
            "id": INT,
            "text": STR,
            "relevance": NUM,
            "similarity": NUM,
            "neuron": _ref("NeuronRef"),
            "explanation": _obj({"id": INT, "text": STR}),
        },
        "required": ["neuron"],
    },
    "SearchPage": {
        "allOf": [
            _page("SearchHit"),
            {
                "type": "object",
                "properties": {
                    "mode": {"type": "string", "enum": ["text", "semantic"]},
                    "query": STR,
                    "terms": {"type": "array", "items": STR},
                    "unembedded": INT,
                },
                "required": ["mode", "query"],
            },
        ]
    },
    "VotePage": {"allOf": [_page("Vote"), _obj({"imported_votes": INT})]},
    "RelatedList": _obj({"items": {"type": "array", "items": _ref("Related")}}),
}
for _name in ("Campaign", "Record", "Explanation", "Score"):
    SCHEMAS[f"{_name}Page"] = _page(_name)
SCHEMAS["NeuronListPage"] = _page("Neuron")


def _param(
    name: str, where: str, schema: dict[str, Any], required: bool = False, doc: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": doc,
    }


LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100}, doc="page size")
CURSOR = _param(
    "cursor", "query", {"type": "string", "maxLength": 512}, doc="next_cursor of the previous page"
)
NAME = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^/]+$"}
CAMPAIGN = _param("campaign", "path", NAME)
ID = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
NEURON_ID, EXPLANATION_ID = _param("neuron_id", "path", ID), _param("explanation_id", "path", ID)
INDEX = _param("index", "path", ID)
PAGE_SIZES = [
    _param("top", "query", {"type": "integer", "minimum": 0, "maximum": 100}, doc="top records shown"),
    _param("random", "query", {"type": "integer", "minimum": 0, "maximum": 100}, doc="random records shown"),
]


def _op(summary: str, schema: str, params: list[dict[str, Any]], *, found: bool = True) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": _ref(schema)}}},
        "400": {"description": "bad parameter", "content": {"application/json": {"schema": _ref("Error")}}},
        "401": {"description": "unknown API key", "content": {"application/json": {"schema": _ref("Error")}}},
        "429": {"description": "rate limited", "content": {"application/json": {"schema": _ref("Error")}}},
    }
    if found:
        responses["404"] = {
            "description": "not found",
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


PATHS = {
    "/api/v1": _op("API index and links", "Index", [], found=False),
    "/api/v1/campaigns": _op("Campaigns by name", "CampaignPage", [LIMIT, CURSOR], found=False),
    "/api/v1/campaigns/{campaign}": _op("One campaign", "Campaign", [CAMPAIGN]),
    "/api/v1/campaigns/{campaign}/neurons": _op(
        "Neurons by index", "NeuronListPage", [CAMPAIGN, LIMIT, CURSOR]
    ),
    "/api/v1/campaigns/{campaign}/neurons/{index}": _op(
        "The neuron page (by campaign and index)", "NeuronArticle", [CAMPAIGN, INDEX, *PAGE_SIZES]
    ),
    "/api/v1/campaigns/{campaign}/explanations": _op(
        "Explanations of a campaign", "ExplanationPage", [CAMPAIGN, LIMIT, CURSOR]
    ),
    "/api/v1/units/{model}/{layer}/{source}/{index}": _op(
        "The unit page by its identity (model, layer, source, index); source: neurons or an SAE's name",
        "NeuronArticle",
        [
            _param("model", "path", NAME),
            _param("layer", "path", ID),
            _param("source", "path", NAME),
            INDEX,
            _param("campaign", "query", {"type": "string", "maxLength": 128}, doc="which campaign's copy"),
            *PAGE_SIZES,
        ],
    ),
    "/api/v1/neurons/{neuron_id}": _op("The neuron page (by id)", "NeuronArticle", [NEURON_ID, *PAGE_SIZES]),
    "/api/v1/neurons/{neuron_id}/activations": _op(
        "Activation records, top first",
        "RecordPage",
        [NEURON_ID, _param("kind", "query", {"type": "string", "enum": ["top", "random"]}), LIMIT, CURSOR],
    ),
    "/api/v1/neurons/{neuron_id}/explanations": _op(
        "Explanations of a neuron", "ExplanationPage", [NEURON_ID, LIMIT, CURSOR]
    ),
    "/api/v1/neurons/{neuron_id}/related": _op("Most correlated neurons", "RelatedList", [NEURON_ID]),
    "/api/v1/explanations": _op("All explanations", "ExplanationPage", [LIMIT, CURSOR], found=False),
    "/api/v1/explanations/{explanation_id}": _op("One explanation", "Explanation", [EXPLANATION_ID]),
    "/api/v1/explanations/{explanation_id}/scores": _op(
        "Scores (simulator, version)", "ScorePage", [EXPLANATION_ID, LIMIT, CURSOR]
    ),
    "/api/v1/explanations/{explanation_id}/votes": _op("Votes", "VotePage", [EXPLANATION_ID, LIMIT, CURSOR]),
    "/api/v1/search": _op(
        "Full-text or semantic search over explanations",
        "SearchPage",
        [
            _param("q", "query", {"type": "string", "minLength": 1, "maxLength": 500}, required=True),
            _param("mode", "query", {"type": "string", "enum": ["text", "semantic"]}),
            _param("campaign", "query", {"type": "string", "maxLength": 128}),
            LIMIT,
            CURSOR,
        ],
    ),
}
PATHS["/api/v1/openapi.json"] = {
    "get": {"summary": "This schema", "responses": {"200": {"description": "OK"}}}
}


@lru_cache(maxsize=1)
def openapi_schema() -> dict[str, Any]:
    """The whole public API: the reference routes here plus the competition routes."""
    from server.api.competition_openapi import PATHS_COMPETITION, SCHEMAS_COMPETITION, SECURITY_SCHEMES
    from server.api.matches_openapi import PATHS_MATCHES, SCHEMAS_MATCHES, TEAMS_LIST_OP

    paths = {**PATHS, **PATHS_COMPETITION, **PATHS_MATCHES}
    teams = "/api/v1/teams"
    paths[teams] = {**paths[teams], **TEAMS_LIST_OP}  # GET beside the competition routes' POST
    schemas = {**SCHEMAS, **SCHEMAS_COMPETITION, **SCHEMAS_MATCHES}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "NeuronQuest API",
            "version": "1.0.0",
            "description": (
                "Reference data (read-only) and competition. Rate limited per IP, or per API key "
                "sent in the X-API-Key header; player actions take the session token as a bearer."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                **SECURITY_SCHEMES,
            },
        },
    }
