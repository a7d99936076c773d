"""Country codes from the ISO 3166-1 list that ``pycountry`` ships (kept current by its
maintainers from the Debian iso-codes data)."""

from __future__ import annotations

import re

import pycountry

_ALPHA2 = re.compile(r"^[A-Za-z]{2}$")  # ASCII only: "ßa".upper() is "SSA"


def iso_country(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code ``text`` names (any case), or None when it names none."""
    if not _ALPHA2.fullmatch(text):
        return None
    found = pycountry.countries.get(alpha_2=text.upper())
    return str(found.alpha_2) if found is not None else None
