"""``GET /api/countries``: the ISO 3166-1 countries for the client's country picker.

From ``pycountry`` (the maintained ISO tables, also what the server checks country codes
against), so the picker offers exactly the codes a rename accepts.
"""

from __future__ import annotations

from functools import lru_cache

import pycountry
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route


@lru_cache(maxsize=1)
def countries() -> list[dict[str, str]]:
    rows = [
        {"code": c.alpha_2, "name": getattr(c, "common_name", None) or c.name} for c in pycountry.countries
    ]
    return sorted(rows, key=lambda row: row["name"])


async def country_list(request: Request) -> JSONResponse:
    return JSONResponse({"countries": countries()}, headers={"Cache-Control": "public, max-age=86400"})


routes: list[BaseRoute] = [Route("/api/countries", country_list, methods=["GET"])]
