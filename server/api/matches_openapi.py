"""OpenAPI 3.0 fragments for team matches, challenges and the team list (server/api/matches.py,
server/api/team_routes.py); merged into the served schema by server/api/openapi.py."""

from __future__ import annotations

from typing import Any

from server.api.competition_openapi import BOOL, ID, INT, STR, _arr, _nullable, _obj, _op, _param, _ref

NUM = {"type": "number"}
_TEAM_REF = _obj({"id": INT, "name": STR})
_STANDING = _obj({"team_id": INT, "score": NUM, "rank": INT, "name": STR})

SCHEMAS_MATCHES: dict[str, Any] = {
    "MatchCreate": _obj(
        {
            "teams": {
                "type": "array",
                "minItems": 2,
                "maxItems": 8,
                "items": {"oneOf": [ID, {"type": "string", "maxLength": 32}]},
                "description": "team ids or invite codes; the first is your team (you captain it)",
            },
            "rounds": {"type": "integer", "minimum": 1, "maximum": 10},
            "round_s": {"type": "number", "minimum": 10, "maximum": 3600},
        },
        ["teams"],
    ),
    "Challenge": _obj(
        {
            "id": STR,
            "status": {"type": "string", "enum": ["pending", "accepted", "declined"]},
            "challenger": _TEAM_REF,
            "teams": _arr(_obj({"id": INT, "name": STR, "accepted": BOOL})),
            "rounds": INT,
            "round_s": NUM,
            "created_at": STR,
            "room": _nullable(STR),
            "incoming": BOOL,
            "awaiting_us": BOOL,
        }
    ),
    "ChallengeMade": _obj({"challenge": _ref("Challenge")}),
    "ChallengeAnswer": _obj({"challenge": _ref("Challenge"), "match": _nullable(_ref("MatchView"))}),
    "ChallengeList": _obj({"challenges": _arr(_ref("Challenge"))}),
    "MatchView": _obj(
        {
            "type": STR,
            "room": STR,
            "state": STR,
            "round": _nullable(INT),
            "of": INT,
            "neuron_id": _nullable(INT),
            "ends_at": _nullable(STR),
            "standings": _arr(_STANDING),
        }
    ),
    "Match": _obj({"match": _ref("MatchView")}),
    "TeamList": _obj(
        {
            "teams": _arr(
                _obj(
                    {
                        "id": INT,
                        "name": STR,
                        "members": INT,
                        "captain_id": _nullable(INT),
                        "points": INT,
                        "rank": _nullable(INT),
                    }
                )
            )
        }
    ),
}


def _with(op: dict[str, Any], *codes: str) -> dict[str, Any]:
    """Add the 403 (not captain / not a member) answer the competition helper does not know."""
    for method in op.values():
        for code in codes:
            method["responses"][code] = {
                "description": "not allowed",
                "content": {"application/json": {"schema": _ref("Error")}},
            }
        method["tags"] = ["matches"]
    return op


_A = "/api/v1"
CHALLENGE = _param("challenge", "path", {"type": "string", "maxLength": 32})
PATHS_MATCHES: dict[str, Any] = {
    f"{_A}/matches": _with(
        _op(
            "post",
            "Challenge other teams to a match (it opens when their captains accept)",
            "ChallengeMade",
            [],
            ("401", "404", "409"),
            body="MatchCreate",
        ),
        "403",
    ),
    f"{_A}/matches/challenges/{{challenge}}/accept": _with(
        _op(
            "post",
            "Accept a challenge as your team's captain; the last accept opens the match room",
            "ChallengeAnswer",
            [CHALLENGE],
            ("401", "404", "409"),
            body="Empty",
        ),
        "403",
    ),
    f"{_A}/matches/challenges/{{challenge}}/decline": _with(
        _op(
            "post",
            "Decline (or withdraw) a challenge as a captain",
            "ChallengeAnswer",
            [CHALLENGE],
            ("401", "404", "409"),
            body="Empty",
        ),
        "403",
    ),
    f"{_A}/matches/{{room}}": _with(
        _op(
            "get",
            "A team match: state, round and standings",
            "Match",
            [_param("room", "path", {"type": "string", "maxLength": 64})],
            ("404",),
        )
    ),
    f"{_A}/teams/{{team_id}}/challenges": _with(
        _op(
            "get", "A team's challenges (members only)", "ChallengeList", [_param("team_id", "path", ID)], ()
        ),
        "403",
    ),
}
TEAMS_LIST_OP = _op(
    "get",
    "Teams with members, points and rank (q filters by name)",
    "TeamList",
    [_param("q", "query", {"type": "string", "maxLength": 40}, "part of a team name")],
    (),
)
