"""When an explanation is another's in other words: the rule that refuses copied answers.

A unit's page, the round's own feed and the reveal all show explanations that are already
scored; pasting one of them into a round would earn its score without any work. A submission
is a copy of an earlier explanation of the same unit when, after folding case, accents,
punctuation and quotes away, it has the same words — or, for texts of three or more words,
when three in four of the words the two hold together are shared (so "commas in lists lol" is
still "commas in lists"). Letters that only look Latin (Cyrillic "с", Greek "ο") read as the
Latin letter they imitate, by Unicode's confusables table (the `confusable-homoglyphs` package),
so a copy typed in look-alikes is still a copy. Pure functions; the database side is
store/explanations.py.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from confusable_homoglyphs.confusables import confusables_data

# Words of letters and digits (apostrophes inside words kept: "don't" is one word).
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# Share of the two texts' distinct words that both hold (Jaccard) from which a text is a copy.
SHARED_WORDS = 0.75
# Shorter texts are copies only word for word: "commas" and "commas in lists" are different ideas.
MIN_WORDS_FOR_OVERLAP = 3


@cache
def _latin_lookalikes() -> dict[int, str]:
    """Each non-ASCII character that Unicode lists as confusable with an ASCII letter or digit,
    mapped to that one (a str.translate table; built once, ~2,000 entries)."""
    table: dict[int, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_glyphs = (g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii())
        latin = next((c for c in ascii_glyphs if c.isalnum()), None)
        if latin is not None:
            table[ord(char)] = latin.casefold()
    return table


def words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    # Accents go, and so do format characters (a zero-width joiner, which explanations may
    # keep for emoji, would otherwise cut "c\u200dats" into two words a reader never sees).
    plain = "".join(
        ch for ch in folded if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
    ).replace("’", "'")
    return _WORD.findall(plain.translate(_latin_lookalikes()))


def is_copy(text: str, earlier: str) -> bool:
    mine, theirs = words(text), words(earlier)
    if not mine or not theirs:
        return False
    if mine == theirs:
        return True
    if min(len(set(mine)), len(set(theirs))) < MIN_WORDS_FOR_OVERLAP:
        return False
    a, b = set(mine), set(theirs)
    return len(a & b) / len(a | b) >= SHARED_WORDS
