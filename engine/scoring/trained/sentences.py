"""The sentences synthetic neurons fire on: the project corpus, WordNet examples, and variants.

Every sentence is tokenized like the planted neurons (GPT-2-style words, a leading space
belongs to the word after it) and carries ``meta``: where it came from, and for WordNet
examples which sense of which word it illustrates, so a sense neuron knows where it fires.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from engine.corpus import DEFAULT_CORPUS, _open, _txt_documents
from engine.scoring.planted import tokenize

MIN_TOKENS, MAX_TOKENS = 6, 40
# Delimiters wrapped around a span of a corpus sentence (open, close, name used in explanations).
DELIMITERS = {
    "quotes": ('"', '"'),
    "single-quotes": ("'", "'"),
    "parentheses": ("(", ")"),
    "square-brackets": ("[", "]"),
    "curly-braces": ("{", "}"),
    "asterisks": ("*", "*"),
    "angle-brackets": ("<", ">"),
}


@dataclass
class Sentence:
    tokens: list[str]
    meta: dict[str, str] = field(default_factory=dict)
    words: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.words = [t.strip().lower() for t in self.tokens]


def corpus_sentences(limit: int, seed: int) -> list[Sentence]:
    """Up to ``limit`` plain sentences of the default corpus (seeded sample)."""
    found: list[str] = []
    with _open(DEFAULT_CORPUS) as fh:
        for doc in _txt_documents(iter(fh)):
            text = re.sub(r"\s+", " ", doc).strip()
            for piece in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", text):
                if piece.isascii() and not re.search(r'["()\[\]{}<>*]', piece):
                    found.append(piece)
    rng = random.Random(seed)
    rng.shuffle(found)
    out = []
    for text in found:
        tokens = tokenize(text)
        if MIN_TOKENS <= len(tokens) <= MAX_TOKENS:
            out.append(Sentence(tokens, {"source": "corpus"}))
            if len(out) >= limit:
                break
    return out


def delimited(base: list[Sentence], per_kind: int, seed: int) -> list[Sentence]:
    """Corpus sentences with a span of 1-4 words wrapped in each kind of delimiter."""
    rng = random.Random(seed)
    out = []
    for kind, (open_, close) in DELIMITERS.items():
        for sentence in rng.sample(base, per_kind):
            toks = sentence.tokens
            word_at = [i for i, t in enumerate(toks) if t.strip().isalpha()]
            if len(word_at) < 3:
                continue
            start = rng.choice(word_at[:-1])
            end = min(len(toks), start + rng.randint(1, 4))
            inner = list(toks[start:end])
            lead = " " if inner[0].startswith(" ") else ""
            inner[0] = inner[0].lstrip()
            new = [*toks[:start], lead + open_, *inner, close, *toks[end:]]
            out.append(Sentence(new, {"source": "delimited", "delimiter": kind}))
    return out


NUMBER_TEMPLATES = [
    "In {year} the village had {small} wells and {two} houses.",
    "She was born in {year} and moved away when she was {two}.",
    "The report lists {big} cases, up from {two} in {year}.",
    "He paid ${two} for {small} tickets to the show.",
    "By {year} the factory employed {big} workers.",
    "The recipe needs {small} eggs and {two} grams of sugar.",
    "Only {small} of the {two} students passed the exam in {year}.",
    "The bridge, finished in {year}, is {big} feet long.",
    "We walked {two} miles and rested {small} times.",
    "Tickets cost ${small} each, or ${two} for a family.",
    "The war ended in {year}, after {small} long years.",
    "About {big} people live there, {two} percent of them children.",
    "Chapter {two} begins on page {big}.",
    "The company was founded in {year} with {small} employees.",
    "Between {year} and {year} the town grew to {big} people.",
]


def number_sentences(count: int, seed: int) -> list[Sentence]:
    """Template sentences mixing years with other numbers (years among numbers)."""
    rng = random.Random(seed)
    draw = {
        "year": lambda: str(rng.randint(1500, 2030)),
        "small": lambda: str(rng.randint(2, 9)),
        "two": lambda: str(rng.randint(11, 99)),
        "big": lambda: str(rng.choice([rng.randint(120, 999), rng.randint(3000, 90000)])),
    }
    out = []
    for _ in range(count):
        template = rng.choice(NUMBER_TEMPLATES)
        text = re.sub(r"\{(\w+)\}", lambda m: draw[m.group(1)](), template)
        out.append(Sentence(tokenize(text), {"source": "numbers"}))
    return out


def example_sentence(text: str, sense: str, word: str) -> Sentence | None:
    tokens = tokenize(text[:1].upper() + text[1:])
    if not MIN_TOKENS - 2 <= len(tokens) <= MAX_TOKENS:
        return None
    return Sentence(tokens, {"source": "wordnet", "sense": sense, "word": word})
