"""Synthetic neurons in families, each with a rule, several phrasings and its split.

A rule maps a sentence to per-token activations (1.0 where it fires), or None where it
cannot tell (a sense neuron on a corpus sentence holding its word in an unknown sense).
Every neuron names its ``targets`` — the words, senses or rule instances it is about —
so the split can be checked: no target of a validation or test neuron is a target of a
training neuron. Parametric rules (after a word, inside a delimiter, a suffix) list their
instances per split by hand, following the issue (train "after 'a'", test "after 'the'";
train quotes, test parentheses); classes, topics, senses and single words are split by
a stable hash of their name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.scoring.trained.sentences import DELIMITERS, Sentence

Fire = Callable[[Sentence], list[float] | None]
SPLITS = ("train", "val", "test")


@dataclass
class SynthNeuron:
    name: str
    family: str
    split: str
    explanations: list[str]
    targets: frozenset[str]
    fire: Fire
    cues: frozenset[str] | None = None  # a sentence must hold one of these words to fire
    sources: tuple[str, ...] = ("corpus",)  # where its sentences come from
    hard: Callable[[Sentence], bool] | None = None  # near misses (the negatives that teach)
    short: str = ""  # noun phrase, for combinations
    qualifier: str = ""  # "right after 'the'", for combinations
    confusers: list[str] = field(default_factory=list)  # the other sense's explanations


def hash_split(name: str, salt: str = "nq-trained-1") -> str:
    bucket = int(hashlib.sha256(f"{salt}:{name}".encode()).hexdigest(), 16) % 100
    return "train" if bucket < 70 else "val" if bucket < 85 else "test"


def _word_rule(words: set[str]) -> Fire:
    return lambda s: [1.0 if w in words else 0.0 for w in s.words]


def listed(words: list[str]) -> str:
    quoted = [f'"{w}"' for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


# -- lexical classes (WordNet hyponym closures) ----------------------------------------------
# (root lemma, sense number, plural name, split). Test classes echo the planted ones.
CLASSES = [
    ("color", 1, "colours", "test"),
    ("relative", 1, "family members and relatives", "test"),
    ("vehicle", 1, "vehicles", "test"),
    ("musical_instrument", 1, "musical instruments", "test"),
    ("beverage", 1, "drinks", "test"),
    ("disease", 1, "diseases", "test"),
    ("metallic_element", 1, "metals", "test"),
    ("tool", 1, "tools", "val"),
    ("building", 1, "buildings", "val"),
    ("emotion", 1, "emotions", "val"),
    ("tree", 1, "trees", "val"),
    ("animal", 1, "animals", "train"),
    ("garment", 1, "clothes", "train"),
    ("furniture", 1, "furniture", "train"),
    ("weapon", 1, "weapons", "train"),
    ("body_part", 1, "parts of the body", "train"),
    ("calendar_month", 1, "months of the year", "train"),
    ("edible_fruit", 1, "fruits", "train"),
    ("vegetable", 1, "vegetables", "train"),
    ("dish", 2, "dishes and meals", "train"),
    ("container", 1, "containers", "train"),
    ("sport", 1, "sports", "train"),
    ("professional", 1, "professions", "train"),
    ("time_unit", 1, "units of time", "train"),
    ("monetary_unit", 1, "units of money", "train"),
    ("flower", 1, "flowers", "train"),
    ("fabric", 1, "fabrics", "train"),
    ("drug", 1, "drugs and medicines", "train"),
    ("body_of_water", 1, "bodies of water", "train"),
    ("geological_formation", 1, "landforms", "train"),
    ("meat", 1, "kinds of meat", "train"),
    ("room", 1, "rooms", "train"),
    ("ship", 1, "ships and boats", "train"),
    ("day_of_the_week", 1, "days of the week", "train"),
    ("crime", 1, "crimes", "train"),
    ("religious_person", 1, "religious people", "train"),
    ("writer", 1, "writers", "train"),
]

CLASS_PHRASES = [
    "{name}",
    "names of {name}",
    "words for {name}",
    "{name} such as {a} or {b}",
    "mentions of {name}",
]

# -- punctuation marks as lexical neurons ------------------------------------------------------
PUNCTUATION = [
    (",", "commas", "test"),
    ("?", "question marks", "val"),
    (".", "full stops", "train"),
    ("!", "exclamation marks", "train"),
    (":", "colons", "train"),
    (";", "semicolons", "train"),
    ("-", "hyphens and dashes", "train"),
    ("'", "apostrophes", "train"),
]

# -- positional rules ---------------------------------------------------------------------------
AFTER = {
    "train": [
        "a",
        "of",
        "to",
        "in",
        "is",
        "was",
        "for",
        "with",
        "it",
        "i",
        "you",
        "he",
        "on",
        "my",
        "not",
        "be",
    ],
    "val": ["an", "at", "as"],
    "test": ["the", "and", "from", "by"],
}
BEFORE = {
    "train": ["of", "to", "is", "was", "that", "you", "in", "it"],
    "val": ["are", "will"],
    "test": ["and", "the", "have"],
}
BEFORE_PUNCT = {
    "train": [(",", "a comma"), ("!", "an exclamation mark")],
    "val": [("?", "a question mark")],
    "test": [(".", "a full stop")],
}
NTH = {"train": [(1, "first"), (3, "third"), (-1, "last")], "val": [(4, "fourth")], "test": [(2, "second")]}
# More training instances of the same rules (trained-2), built after every other neuron so the
# seeded validation and test neurons and their records stay exactly as they were generated.
# None is a validation or test instance's word (the, and, from, by, an, at, as, are, will, have).
AFTER_MORE = {
    "train": [
        "this",
        "that",
        "his",
        "her",
        "their",
        "we",
        "they",
        "one",
        "all",
        "some",
        "no",
        "very",
        "had",
        "has",
        "were",
        "would",
        "can",
        "could",
        "but",
        "or",
        "if",
        "when",
        "so",
        "into",
        "about",
        "than",
        "more",
        "its",
        "our",
        "your",
        "been",
        "which",
        "who",
    ]
}
BEFORE_MORE = {
    "train": ["a", "for", "with", "on", "be", "not", "he", "i", "this", "his", "they", "we", "or", "but"]
}
NTH_MORE = {"train": [(5, "fifth"), (6, "sixth"), (7, "seventh")]}

# -- syntactic rules ----------------------------------------------------------------------------
DELIMITER_SPLIT = {
    "quotes": ("train", "quotation marks"),
    "square-brackets": ("train", "square brackets"),
    "asterisks": ("train", "asterisks"),
    "angle-brackets": ("train", "angle brackets"),
    "single-quotes": ("val", "single quotes"),
    "curly-braces": ("val", "curly braces"),
    "parentheses": ("test", "parentheses (round brackets)"),
}
NUMBER_KINDS = {
    "single-digit": ("train", "single-digit numbers", lambda w, prev: w.isdigit() and len(w) == 1),
    "two-digit": ("train", "two-digit numbers", lambda w, prev: w.isdigit() and len(w) == 2),
    "five-digit": ("train", "large numbers of five digits", lambda w, prev: w.isdigit() and len(w) == 5),
    "dollars": (
        "val",
        "amounts of money in dollars after a $ sign",
        lambda w, prev: w.isdigit() and prev == "$",
    ),
    "years": (
        "test",
        "years, such as 1998",
        lambda w, prev: w.isdigit() and len(w) == 4 and 1500 <= int(w) <= 2030,
    ),
}

# -- morphology ----------------------------------------------------------------------------------
SUFFIXES = {
    "train": [
        ("ing", "words ending in -ing"),
        ("tion", "nouns ending in -tion"),
        ("ness", "nouns ending in -ness"),
        ("ful", "adjectives ending in -ful"),
        ("able", "adjectives ending in -able"),
        ("ous", "adjectives ending in -ous"),
        ("ment", "nouns ending in -ment"),
        ("est", "superlatives ending in -est"),
    ],
    "val": [("less", "adjectives ending in -less"), ("ity", "nouns ending in -ity")],
    "test": [("ly", "adverbs ending in -ly"), ("ed", "past-tense verbs ending in -ed")],
}
PREFIXES = {
    "train": [("un", "words starting with un-"), ("re", "words starting with re-")],
    "val": [("dis", "words starting with dis-")],
    "test": [],
}

# Words of the planted neurons' senses: never trained on, so planted contextual stays held out.
PLANTED_WORDS = {"bank", "apple", "may", "bat", "spring"}


def positional_neurons(
    after: dict[str, list[str]] = AFTER,
    before: dict[str, list[str]] = BEFORE,
    before_punct: dict[str, list[tuple[str, str]]] = BEFORE_PUNCT,
    nth: dict[str, list[tuple[int, str]]] = NTH,
) -> list[SynthNeuron]:
    out = []
    for split, words in after.items():
        for x in words:

            def fire(s: Sentence, x: str = x) -> list[float]:
                return [1.0 if i and s.words[i - 1] == x else 0.0 for i in range(len(s.words))]

            out.append(
                SynthNeuron(
                    f"after-{x}",
                    "positional",
                    split,
                    [
                        f'the word right after "{x}"',
                        f'words that follow "{x}"',
                        f"the token after the word {x}",
                        f'whatever word comes after "{x}"',
                    ],
                    frozenset({f"after:{x}"}),
                    fire,
                    cues=frozenset({x}),
                    hard=lambda s, x=x: x in s.words,
                    short=f'words after "{x}"',
                    qualifier=f'right after "{x}"',
                )
            )
    for split, words in before.items():
        for x in words:

            def fire_b(s: Sentence, x: str = x) -> list[float]:
                n = len(s.words)
                return [1.0 if i + 1 < n and s.words[i + 1] == x else 0.0 for i in range(n)]

            out.append(
                SynthNeuron(
                    f"before-{x}",
                    "positional",
                    split,
                    [
                        f'the word just before "{x}"',
                        f'words that precede "{x}"',
                        f"the token before the word {x}",
                    ],
                    frozenset({f"before:{x}"}),
                    fire_b,
                    cues=frozenset({x}),
                    hard=lambda s, x=x: x in s.words,
                    short=f'words before "{x}"',
                    qualifier=f'just before "{x}"',
                )
            )
    for split, marks in before_punct.items():
        for mark, name in marks:

            def fire_p(s: Sentence, mark: str = mark) -> list[float]:
                n = len(s.words)
                return [
                    1.0 if i + 1 < n and s.words[i + 1] == mark and s.words[i].isalnum() else 0.0
                    for i in range(n)
                ]

            out.append(
                SynthNeuron(
                    f"before-punct-{mark}",
                    "positional",
                    split,
                    [
                        f"the word just before {name}",
                        f"words followed by {name}",
                        f"the last word before {name}",
                    ],
                    frozenset({f"before-punct:{mark}"}),
                    fire_p,
                    cues=frozenset({mark}),
                    short=f"words before {name}",
                    qualifier=f"just before {name}",
                )
            )
    for split, positions in nth.items():
        for n, ordinal in positions:

            def fire_n(s: Sentence, n: int = n) -> list[float]:
                alpha = [i for i, w in enumerate(s.words) if w.isalpha()]
                pick = alpha[n - 1] if n > 0 and len(alpha) >= n else alpha[-1] if n < 0 and alpha else -1
                return [1.0 if i == pick else 0.0 for i in range(len(s.words))]

            out.append(
                SynthNeuron(
                    f"nth-{ordinal}",
                    "positional",
                    split,
                    [
                        f"the {ordinal} word of the text",
                        f"the {ordinal} word",
                        f"whatever word is {ordinal} in the sentence",
                    ],
                    frozenset({f"nth:{n}"}),
                    fire_n,
                    sources=("corpus", "wordnet"),
                    short=f"the {ordinal} word",
                    qualifier=f"when it is the {ordinal} word",
                )
            )
    return out


def syntactic_neurons() -> list[SynthNeuron]:
    out = []
    for kind, (split, name) in DELIMITER_SPLIT.items():
        open_, close = DELIMITERS[kind]

        def fire(s: Sentence, kind: str = kind, open_: str = open_, close: str = close) -> list[float]:
            acts = [0.0] * len(s.words)
            if s.meta.get("delimiter") != kind:
                return acts
            start = next(i for i, w in enumerate(s.words) if w == open_)
            end = next(i for i in range(start + 1, len(s.words)) if s.words[i] == close)
            for i in range(start + 1, end):
                acts[i] = 1.0
            return acts

        out.append(
            SynthNeuron(
                f"inside-{kind}",
                "syntactic",
                split,
                [
                    f"words inside {name}",
                    f"text enclosed in {name}",
                    f"the tokens between {name}",
                    f"anything written in {name}",
                ],
                frozenset({f"delimiter:{kind}"}),
                fire,
                sources=("delimited",),
                hard=lambda s: True,
                short=f"words inside {name}",
                qualifier=f"inside {name}",
            )
        )
    for kind, (split, name, test) in NUMBER_KINDS.items():

        def fire_n(s: Sentence, test: Callable[[str, str], bool] = test) -> list[float]:
            return [1.0 if test(w, s.words[i - 1] if i else "") else 0.0 for i, w in enumerate(s.words)]

        out.append(
            SynthNeuron(
                f"numbers-{kind}",
                "syntactic",
                split,
                [name, f"numbers: {name}", f"{name} among other numbers"],
                frozenset({f"numbers:{kind}"}),
                fire_n,
                sources=("numbers",),
                hard=lambda s: True,
                short=name,
            )
        )
    return out


def morphology_neurons() -> list[SynthNeuron]:
    out = []
    for table, is_suffix in ((SUFFIXES, True), (PREFIXES, False)):
        for split, entries in table.items():
            for affix, phrase in entries:

                def test(w: str, affix: str = affix, is_suffix: bool = is_suffix) -> bool:
                    ok = w.endswith(affix) if is_suffix else w.startswith(affix)
                    return ok and w.isalpha() and len(w) >= len(affix) + 3

                bare = phrase.split(" ending in ")[0].split(" starting with ")[0]
                dash = f"-{affix}" if is_suffix else f"{affix}-"
                out.append(
                    SynthNeuron(
                        f"affix-{dash}",
                        "morphology",
                        split,
                        [
                            phrase,
                            f"{bare} with the {'suffix' if is_suffix else 'prefix'} {dash}",
                            f'words {"ending" if is_suffix else "starting"} with "{affix}"',
                        ],
                        frozenset({f"affix:{dash}"}),
                        lambda s, test=test: [1.0 if test(w) else 0.0 for w in s.words],
                        sources=("corpus", "wordnet"),
                        short=phrase,
                    )
                )
    return out
