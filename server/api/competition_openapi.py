"""OpenAPI 3.0 fragments for the competition routes (server/api/competition.py).

Merge into server/api/openapi.py with ``PATHS.update(PATHS_COMPETITION)`` and
``SCHEMAS.update(SCHEMAS_COMPETITION)``; the error schema ``Error`` is the shared one.
"""

from __future__ import annotations

from typing import Any

STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
ID = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": required if required is not None else list(props),
    }


def _arr(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _param(name: str, where: str, schema: dict[str, Any], doc: str = "") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema, "description": doc}


_DESCRIPTIONS = {
    "400": "bad parameter",
    "401": "sign in first",
    "404": "not found",
    "409": "refused",
    "429": "rate limited",
}


def _op(
    method: str,
    summary: str,
    schema: str,
    params: list[dict[str, Any]],
    errors: tuple[str, ...],
    body: str | None = None,
) -> dict[str, Any]:
    error = {"application/json": {"schema": _ref("Error")}}
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": _ref(schema)}}}
    }
    for code in ("400", "429", *errors):
        responses[code] = {"description": _DESCRIPTIONS[code], "content": error}
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": params,
        "responses": responses,
        "tags": ["competition"],
    }
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
        op["security"] = [{"session": []}]
    return {method: op}


BOARD = _param(
    "board", "path", {"type": "string", "maxLength": 128}, "points, teams, country:FR, team:3, quest:12, ..."
)
PERIOD = _param("period", "query", STR, "all, daily, weekly, monthly, or an id such as d:2026-11-21")
LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100})
CURSOR = _param("cursor", "query", {"type": "string", "maxLength": 512}, "next_cursor of the previous page")

_ENTRY = {"id": INT, "name": _nullable(STR), "score": INT, "rank": INT, "position": INT}
SCHEMAS_COMPETITION: dict[str, Any] = {
    "BoardEntry": _obj(_ENTRY, ["id", "score", "rank"]),
    "BoardList": _obj(
        {
            "boards": _arr(
                _obj(
                    {
                        "kind": STR,
                        "title": STR,
                        "order": STR,
                        "operator": STR,
                        "periods": _arr(STR),
                        "member": STR,
                        "needs_param": BOOL,
                    }
                )
            )
        }
    ),
    "BoardPage": _obj(
        {"board": STR, "period": STR, "items": _arr(_ref("BoardEntry")), "next_cursor": _nullable(STR)}
    ),
    "BoardAround": _obj(
        {
            "board": STR,
            "period": STR,
            "me": _ref("BoardEntry"),
            "size": INT,
            "items": _arr(_ref("BoardEntry")),
        }
    ),
    "RankRow": _obj(
        {"board": STR, "period": STR, "id": INT, "score": INT, "rank": INT, "position": INT, "size": INT}
    ),
    "PlayerRanks": _obj({"player_id": INT, "ranks": _arr(_ref("RankRow"))}),
    "Profile": _obj(
        {
            "player": _obj({"id": INT, "name": STR, "country": _nullable(STR), "region": _nullable(STR)}),
            "points": INT,
            "team_id": _nullable(INT),
            "team": _nullable(_obj({"id": INT, "name": STR})),
            "ranks": _arr(_ref("RankRow")),
            "streak": _obj({"current": INT, "best": INT}),
            "achievements": _arr(_obj({"code": STR, "title": STR, "description": STR, "granted_at": STR})),
            "locked": _arr(_obj({"code": STR, "title": STR, "description": STR})),
        }
    ),
    "Quest": _obj(
        {
            "id": INT,
            "kind": STR,
            "period": STR,
            "title": STR,
            "neuron_ids": _arr(INT),
            "opens_at": STR,
            "closes_at": STR,
            "status": STR,
            "seconds_left": INT,
            "max_points": INT,
            "board": STR,
            "room": STR,
            # What players call the quest's units: "neuron", or "feature" (an SAE's latents).
            "word": {"type": "string", "enum": ["neuron", "feature"]},
            "mine": _nullable(
                _obj(
                    {
                        "played": INT,
                        "points": INT,
                        "rank": _nullable(INT),
                        "players": INT,
                        "neurons": INT,
                        "neurons_done": INT,
                        "streak": _obj({"current": INT, "best": INT}),
                    },
                    ["played", "points", "rank", "players", "neurons", "neurons_done"],
                )
            ),
        },
        [
            "id",
            "kind",
            "period",
            "title",
            "neuron_ids",
            "opens_at",
            "closes_at",
            "status",
            "seconds_left",
            "max_points",
            "board",
            "word",
        ],
    ),
    "QuestResults": _obj({"quest": _ref("Quest"), "frozen": BOOL, "items": _arr(_ref("BoardEntry"))}),
    "ShareText": _obj({"text": STR}),
    "Team": _obj(
        {
            "team": _obj(
                {
                    "id": INT,
                    "name": STR,
                    "invite_code": _nullable(STR),
                    "captain_id": _nullable(INT),
                    "members": _arr(_obj({"id": INT, "name": STR, "joined_at": STR})),
                    "points": INT,
                    "rank": _nullable(INT),
                }
            )
        }
    ),
    "TeamCreate": _obj({"name": {"type": "string", "minLength": 1, "maxLength": 32}}),
    "TeamJoin": _obj({"code": {"type": "string", "minLength": 1, "maxLength": 32}}),
    "Empty": _obj({}, []),
}

_A = "/api/v1"
PATHS_COMPETITION: dict[str, Any] = {
    f"{_A}/leaderboards": _op("get", "Every board kind", "BoardList", [], ()),
    f"{_A}/leaderboards/{{board}}": _op(
        "get", "Top of a board (keyset pages)", "BoardPage", [BOARD, PERIOD, LIMIT, CURSOR], ("404",)
    ),
    f"{_A}/leaderboards/{{board}}/around": _op(
        "get",
        "A member and its neighbours (2n+1 rows, also at either end)",
        "BoardAround",
        [
            BOARD,
            PERIOD,
            _param("id", "query", ID, "member id (default: the signed-in player)"),
            _param("n", "query", {"type": "integer", "minimum": 0, "maximum": 50}),
        ],
        ("404",),
    ),
    f"{_A}/players/{{player_id}}/ranks": _op(
        "get", "A player's rank on every board", "PlayerRanks", [_param("player_id", "path", ID)], ("404",)
    ),
    f"{_A}/players/{{player_id}}/profile": _op(
        "get",
        "Points, ranks, streak and achievements",
        "Profile",
        [_param("player_id", "path", ID)],
        ("404",),
    ),
    f"{_A}/quests/daily": _op("get", "Today's daily puzzle (UTC)", "Quest", [], ("404",)),
    f"{_A}/quests/weekly": _op("get", "This week's quest (ISO week, UTC)", "Quest", [], ("404",)),
    f"{_A}/quests/{{quest_id}}/results": _op(
        "get",
        "Frozen results of a closed quest, live standings of an open one",
        "QuestResults",
        [_param("quest_id", "path", ID), LIMIT],
        ("404",),
    ),
    f"{_A}/quests/{{quest_id}}/share": _op(
        "get",
        "Spoiler-free share card of your daily result (at once once you played)",
        "ShareText",
        [_param("quest_id", "path", ID)],
        ("401", "404", "409"),
    ),
    f"{_A}/teams": _op(
        "post", "Create a team (you become captain)", "Team", [], ("401", "409"), body="TeamCreate"
    ),
    f"{_A}/teams/join": _op(
        "post", "Join a team by invite code", "Team", [], ("401", "404", "409"), body="TeamJoin"
    ),
    f"{_A}/teams/leave": _op("post", "Leave your team", "Team", [], ("401", "409"), body="Empty"),
    f"{_A}/teams/{{team_id}}": _op(
        "get", "A team and its members", "Team", [_param("team_id", "path", ID)], ("404",)
    ),
}
SECURITY_SCHEMES = {
    "session": {"type": "http", "scheme": "bearer", "description": "session token from /session"}
}
