"""What the head needs besides MiniLM states: a record's form, and which words an explanation names.

MiniLM's state of a token says little about "is it the second word", "is it inside
brackets" or "is the word before it the one the explanation quotes"; rules about place
need those as inputs, phrased so they carry to instances training never saw (a new
delimiter, a new trigger word, a new ordinal):

- ``record_form``: per token, explanation-independent, computed once per record: its
  index and its index among alphabetic words, digits, punctuation on either side, and
  whether it is enclosed by a delimiter pair (of any kind) plus where that pair opens, so
  the head can compare the opening mark with the explanation's words.
- ``matches``: per (explanation, token), whether the token, its left or its right
  neighbour is a word the explanation quotes ("after \"the\"") or uses at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

PLACES = 9  # index one-hots 0..8 (8 = later)
FORM = 2 * (PLACES + 1) + 12
MATCHES = 6
# Marks that open and close a span; symmetric ones toggle.
OPENERS = {"(": ")", "[": "]", "{": "}", "<": ">", "“": "”", "‘": "’"}
SYMMETRIC = {'"', "'", "*", "`"}
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|(?<![A-Za-z])\'([^\']+)\'(?![A-Za-z])')
_WORD = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def _onehot(i: int, last: bool) -> list[float]:
    out = [0.0] * (PLACES + 1)
    if i >= 0:
        out[min(i, PLACES - 1)] = 1.0
    out[PLACES] = float(last)
    return out


def _apostrophe(tokens: Sequence[str], i: int) -> bool:
    """A quote mark between two letters with no space ("It's", "isn't") is not a delimiter."""
    if tokens[i] not in ("'", "’") or i == 0 or i + 1 >= len(tokens):
        return False
    return tokens[i - 1][-1:].isalnum() and tokens[i + 1][:1].isalpha()


def enclosures(tokens: Sequence[str]) -> list[int]:
    """Per token, the index of the innermost opening mark of a closed pair around it, else -1."""
    words = [t.strip() for t in tokens]
    out = [-1] * len(words)
    stack: list[int] = []
    spans: list[tuple[int, int]] = []
    for i, w in enumerate(words):
        if _apostrophe(tokens, i):
            continue
        if stack and (w == OPENERS.get(words[stack[-1]]) or (w in SYMMETRIC and words[stack[-1]] == w)):
            spans.append((stack.pop(), i))
        elif w in OPENERS or w in SYMMETRIC:
            stack.append(i)
    for start, end in sorted(spans, key=lambda s: s[0] - s[1]):  # outer first, inner overwrite
        for i in range(start + 1, end):
            out[i] = start
    return out


def record_form(tokens: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, FORM) features and (T,) enclosing-opener index (-1: none) of one record."""
    words = [t.strip().lower() for t in tokens]
    n = len(words)
    alpha = [i for i, w in enumerate(words) if w.isalpha()]
    rank = {i: k for k, i in enumerate(alpha)}
    opener = enclosures(tokens)
    punct = [bool(w) and not any(c.isalnum() for c in w) for w in words]
    rows = []
    for i, w in enumerate(words):
        digits = w.isdigit()
        rows.append(
            _onehot(i, i == n - 1)
            + _onehot(rank.get(i, -1), bool(alpha) and i == alpha[-1])
            + [
                float(punct[i]),
                float(i > 0 and punct[i - 1]),
                float(i + 1 < n and punct[i + 1]),
                float(w.isalpha()),
                float(tokens[i].strip()[:1].isupper()),
                float(digits),
                *[float(digits and (len(w) == k or (k == 5 and len(w) > 5))) for k in range(1, 6)],
                float(opener[i] >= 0),
            ]
        )
    return torch.tensor(rows, dtype=torch.float32).reshape(n, FORM), torch.tensor(opener)


def terms(explanation: str) -> tuple[frozenset[str], frozenset[str]]:
    """(words the explanation quotes, every word it uses), lower-case, split like record tokens."""
    quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(explanation)]
    inside = frozenset(w.lower() for q in quoted for w in _WORD.findall(q))
    return inside, frozenset(w.lower() for w in _WORD.findall(explanation))


def matches(words: Sequence[str], explanation_terms: tuple[frozenset[str], frozenset[str]]) -> torch.Tensor:
    """(T, MATCHES): the token, its left and its right neighbour is a quoted / a used word."""
    quoted, used = explanation_terms
    q = [float(w in quoted) for w in words]
    u = [float(w in used) for w in words]
    n = len(words)
    rows = [
        [
            q[i],
            q[i - 1] if i else 0.0,
            q[i + 1] if i + 1 < n else 0.0,
            u[i],
            u[i - 1] if i else 0.0,
            u[i + 1] if i + 1 < n else 0.0,
        ]
        for i in range(n)
    ]
    return torch.tensor(rows, dtype=torch.float32).reshape(n, MATCHES)
