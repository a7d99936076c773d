"""WordNet 3.0 read straight from Debian's ``wordnet-base`` data files (no nltk, no network).

Only what the training data needs: each synset's words, gloss, example sentences,
hypernyms, hyponyms and topic domain. The format is documented in wndb(5): one synset
per line, ``offset lex_filenum ss_type w_cnt word lex_id ... p_cnt ptr... | gloss``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
POS_FILES = {"n": "data.noun", "v": "data.verb"}


@dataclass
class Synset:
    key: str  # "n:02084071"
    pos: str
    words: list[str]
    definition: str
    examples: list[str]
    hypernyms: list[str] = field(default_factory=list)
    hyponyms: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)  # topic domains (";c" pointers)


def _parse(line: str, pos: str) -> Synset:
    head, _, gloss = line.partition(" | ")
    parts = head.split()
    offset, n_words = parts[0], int(parts[3], 16)
    words = [parts[4 + 2 * i] for i in range(n_words)]
    at = 4 + 2 * n_words
    n_ptrs = int(parts[at])
    hyper, hypo, domains = [], [], []
    for i in range(n_ptrs):
        symbol, target, target_pos = parts[at + 1 + 4 * i : at + 4 + 4 * i]
        target_key = f"{'n' if target_pos == 'n' else target_pos}:{target}"
        if symbol in ("@", "@i"):
            hyper.append(target_key)
        elif symbol in ("~", "~i"):
            hypo.append(target_key)
        elif symbol == ";c":
            domains.append(target_key)
    examples = re.findall(r'"([^"]+)"', gloss)
    definition = gloss.split(";")[0].strip().strip('"').strip()
    return Synset(f"{pos}:{offset}", pos, words, definition, examples, hyper, hypo, domains)


@lru_cache(maxsize=1)
def load(directory: str = str(WORDNET_DIR)) -> dict[str, Synset]:
    """Every noun and verb synset by key; raises FileNotFoundError without wordnet-base."""
    synsets: dict[str, Synset] = {}
    for pos, name in POS_FILES.items():
        with (Path(directory) / name).open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.startswith(" "):  # the licence header lines start with spaces
                    synset = _parse(line.rstrip("\n"), pos)
                    synsets[synset.key] = synset
    return synsets


def lemma_text(word: str) -> str:
    return re.sub(r"\(.*\)$", "", word).replace("_", " ")


def closure_keys(synsets: dict[str, Synset], root: str, max_depth: int = 12) -> set[str]:
    """The root and every synset below it (hyponyms and instances)."""
    seen, frontier = {root}, [root]
    for _ in range(max_depth):
        frontier = [c for key in frontier for c in synsets[key].hyponyms if c in synsets and c not in seen]
        seen.update(frontier)
    return seen


def closure_words(synsets: dict[str, Synset], root: str, max_depth: int = 12) -> set[str]:
    """Single-word, lower-case lemmas below the root whose most frequent sense is below it.

    ("go" is a hyponym of a drug in one rare sense; it is not a drug word.)"""
    keys = closure_keys(synsets, root, max_depth)
    words = {lemma_text(w) for key in keys for w in synsets[key].words}
    return {
        w for w in words if w.isalpha() and w.islower() and senses(w, "n")[:1] and senses(w, "n")[0] in keys
    }


def find_synset(synsets: dict[str, Synset], word: str, pos: str, gloss_start: str) -> str:
    """The key of the synset holding ``word`` whose gloss starts with ``gloss_start``."""
    for key, synset in synsets.items():
        if synset.pos == pos and word in synset.words and synset.definition.startswith(gloss_start):
            return key
    raise KeyError(f"no {pos} synset {word!r} glossed {gloss_start!r}")


@lru_cache(maxsize=1)
def _index(directory: str = str(WORDNET_DIR)) -> dict[tuple[str, str], list[str]]:
    """(lemma, pos) -> synset keys in sense order (most frequent sense first)."""
    out: dict[tuple[str, str], list[str]] = {}
    for pos, name in (("n", "index.noun"), ("v", "index.verb")):
        with (Path(directory) / name).open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(" "):
                    continue
                parts = line.split()
                n_senses, n_ptrs = int(parts[2]), int(parts[3])
                offsets = parts[6 + n_ptrs : 6 + n_ptrs + n_senses]
                out[(parts[0], pos)] = [f"{pos}:{o}" for o in offsets]
    return out


def senses(lemma: str, pos: str) -> list[str]:
    return _index().get((lemma.lower(), pos), [])


def sense(lemma: str, pos: str = "n", number: int = 1) -> str:
    return senses(lemma, pos)[number - 1]
