"""Keyset pagination: opaque cursors that hold the sort key of the last row seen.

Cursors are base64url JSON ``[list name, key values...]``; a cursor from another list or
one that was tampered with is refused with BadCursor (the API answers 400).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_LIMIT = 100
# Key values a cursor may hold: integers SQL and JavaScript agree on, texts of a sane length.
MAX_KEY = 2**53
MAX_TEXT_KEY = 512


class BadCursor(ValueError):
    """A cursor that this server did not hand out (or for another list)."""


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor, **self.extra}


def encode_cursor(kind: str, values: Sequence[Any]) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str, types: Sequence[type]) -> list[Any] | None:
    """The key values in ``cursor`` (None for the first page); BadCursor when malformed."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this API handed out") from exc
    ok = isinstance(data, list) and len(data) == len(types) + 1 and data[0] == kind
    if ok:
        values = data[1:]
        # bool is an int in Python; a cursor never holds one.
        ok = all(
            (isinstance(v, t) and not isinstance(v, bool)) or (t is float and type(v) is int)
            for v, t in zip(values, types, strict=True)
        )
    if ok:
        # A forged cursor with a huge or non-finite number must not reach SQL (it answered 500).
        ok = all(
            (isinstance(v, int) and -MAX_KEY <= v <= MAX_KEY)
            or (isinstance(v, float) and math.isfinite(v))
            or (isinstance(v, str) and len(v) <= MAX_TEXT_KEY)
            for v in values
        )
    if not ok:
        raise BadCursor(f"cursor is not one for this list ({kind})")
    return [float(v) if t is float else v for v, t in zip(data[1:], types, strict=True)]


def clamp_limit(limit: int) -> int:
    return max(1, min(MAX_LIMIT, limit))


def page_of(items: list[dict[str, Any]], limit: int, key: Callable[[dict[str, Any]], list[Any]]) -> Page:
    """Trim the one extra row fetched to learn whether another page exists."""
    limit = clamp_limit(limit)
    if len(items) <= limit:
        return Page(items)
    items = items[:limit]
    values = key(items[-1])
    return Page(items, encode_cursor(values[0], values[1:]))
