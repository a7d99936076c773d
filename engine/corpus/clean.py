"""A family-friendly filter over corpus documents, from a maintained word list.

Clues are shown to every player, so a document that contains a word of ``better-profanity``'s
bundled list (the same package the room filter uses, rooms/moderation.py) is left out before
mining: no window, hence no snippet, is cut from it. Matching is on whole lower-cased words
(and on the list's few two-word entries), a set lookup per word: the package's own checker
also tries leetspeak variants at tens of milliseconds a sentence, which the printed texts of the
bundled corpus do not need and a build of thousands of documents cannot afford. docs/CORPUS.md
records how many documents of the default corpus this removes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from better_profanity.utils import get_complete_path_of_file, read_wordlist

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Everyday words the list also holds (it is built for chat, where they are insults): kept, the
# way better-profanity's own ``whitelist_words`` keeps words. The counts in docs/CORPUS.md say
# what they were worth; obscenities and slurs are never on this list.
ALLOWED = frozenset(
    {"god", "kill", "murder", "woody", "organ", "pot", "rum", "fat", "ugly", "stupid", "drunk"}
)


@lru_cache(maxsize=1)
def blocked_words() -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """(single words, two-word phrases) of the package's word list."""
    singles: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for row in read_wordlist(get_complete_path_of_file("profanity_wordlist.txt")):
        parts = row.lower().split()
        if len(parts) == 1 and parts[0] not in ALLOWED:
            singles.add(parts[0])
        elif len(parts) == 2:
            pairs.add((parts[0], parts[1]))
    return frozenset(singles), frozenset(pairs)


def is_family_friendly(text: str) -> bool:
    singles, pairs = blocked_words()
    words = WORD.findall(text.lower())
    if any(w in singles for w in words):
        return False
    return not any(pair in pairs for pair in pairwise(words))


@dataclass
class FilterCount:
    kept: int = 0
    removed: int = 0


def family_friendly(documents: Iterable[str], count: FilterCount | None = None) -> Iterator[str]:
    """The documents without the rude ones; ``count`` (if given) tallies both."""
    tally = count if count is not None else FilterCount()
    for doc in documents:
        if is_family_friendly(doc):
            tally.kept += 1
            yield doc
        else:
            tally.removed += 1
