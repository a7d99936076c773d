"""Explanation text as it is stored and shown: Unicode NFC, no control or bidi characters.

A NUL byte breaks PostgreSQL text and exporters; a right-to-left override (U+202E) makes an
explanation read differently on screen from what was stored and scored. Both are removed
(whitespace controls become a space), and runs of whitespace collapse to one space.
"""

from __future__ import annotations

import unicodedata

# Format characters that carry meaning inside emoji and some scripts stay.
_KEEP_FORMAT = {"\u200d", "\u200c"}  # zero-width joiner / non-joiner


def clean_text(text: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if ch.isspace():
            out.append(" ")
        elif category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and ch not in _KEEP_FORMAT):
            continue  # control, surrogate, private use, unassigned, bidi and other format
        else:
            out.append(ch)
    return " ".join("".join(out).split())
