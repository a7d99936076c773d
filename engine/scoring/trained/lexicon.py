"""Word-based synthetic neurons: lexical classes, single words, topics and word senses.

Words are claimed split by split, held-out splits first: a word that is a target of a
validation or test neuron (a class member, a topic word, a sense's word, a named word) is
removed from every training neuron, so no target word is shared across splits.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable

from engine.scoring.trained import wordnet
from engine.scoring.trained.families import (
    CLASS_PHRASES,
    CLASSES,
    PLANTED_WORDS,
    PUNCTUATION,
    SynthNeuron,
    _word_rule,
    hash_split,
    listed,
)
from engine.scoring.trained.sentences import Sentence, example_sentence

ORDER = ("test", "val", "train")  # who claims a word first
MIN_CLASS_WORDS = 4


def _short_definition(text: str, words: int = 9) -> str:
    text = re.sub(r"\(.*?\)", "", text).strip()
    return " ".join(text.split()[:words]).rstrip(",;:")


def _sense_keys(word: str) -> list[str]:
    """The word's first six noun senses, then its first six verb senses (WordNet keys)."""
    return [key for pos in ("n", "v") for key in wordnet.senses(word, pos)[:6]]


def _examples_by_sense(
    synsets: dict[str, wordnet.Synset], word: str, keys: list[str]
) -> list[tuple[str, list[Sentence]]]:
    """[(sense key, its WordNet example sentences that hold a form of the word)], senses
    without one left out."""
    forms = {word, word + "s", word + "es", word + "ed", word + "d", word + "ing"}
    found = []
    for key in keys:
        sents = []
        for text in synsets[key].examples:
            sentence = example_sentence(text, key, word)
            if sentence and forms & set(sentence.words):
                sents.append(sentence)
        if sents:
            found.append((key, sents))
    return found


def sense_examples(
    synsets: dict[str, wordnet.Synset], vocab: Counter[str], seed: int, max_words: int
) -> dict[str, list[tuple[str, list[Sentence]]]]:
    """word -> [(synset key, example sentences holding the word)] for words with 2+ such senses."""
    rng = random.Random(seed)
    by_word: dict[str, list[tuple[str, list[Sentence]]]] = {}
    candidates = sorted({w for s in synsets.values() for w in s.words if w.isalpha() and w.islower()})
    rng.shuffle(candidates)
    for word in candidates:
        found = _examples_by_sense(synsets, word, _sense_keys(word))
        if len(found) >= 2 and (vocab[word] >= 2 or word in PLANTED_WORDS):
            by_word[word] = found[:3]
        if len(by_word) >= max_words:
            break
    return by_word


def more_sense_examples(
    synsets: dict[str, wordnet.Synset], taken: set[str], held: frozenset[str], seed: int, max_words: int
) -> dict[str, list[tuple[str, list[Sentence]]]]:
    """More ambiguous words for training only (session 7): like ``sense_examples``, but beyond
    the words it took, in the training bucket of the hash only, none of whose words or senses
    is a held-out target, and one example per sense suffices (these train, they are never
    judged). Their sentences come from a source of their own (``wordnet-senses``), so no
    earlier neuron's pool, and so no validation or test record, changes."""
    if max_words <= 0:
        return {}
    rng = random.Random(f"{seed}:more-senses")
    return unused_sense_words(
        synsets, rng, "train", held, "wordnet-senses", max_words, keep=4, accept=lambda w: w not in taken
    )


def unused_sense_words(
    synsets: dict[str, wordnet.Synset],
    rng: random.Random,
    bucket: str,
    targets: frozenset[str],
    source: str,
    max_words: int,
    keep: int,
    accept: Callable[[str], bool],
) -> dict[str, list[tuple[str, list[Sentence]]]]:
    """Ambiguous words of one bucket of the sense hash, in ``rng``'s order, that ``accept`` takes
    and none of whose words or senses is in ``targets``: word -> its first ``keep`` senses with a
    WordNet example holding it (two at least), the examples' source set to ``source``."""
    by_word: dict[str, list[tuple[str, list[Sentence]]]] = {}
    candidates = sorted({w for s in synsets.values() for w in s.words if w.isalpha() and w.islower()})
    rng.shuffle(candidates)
    for word in candidates:
        if not accept(word) or word in PLANTED_WORDS or f"word:{word}" in targets:
            continue
        if hash_split(f"sense:{word}") != bucket:
            continue
        keys = _sense_keys(word)
        if any(f"sense:{key}" in targets for key in keys):
            continue
        found = _examples_by_sense(synsets, word, keys)
        if len(found) >= 2:
            for _, sents in found:
                for sentence in sents:
                    sentence.meta["source"] = source
            by_word[word] = found[:keep]
        if len(by_word) >= max_words:
            break
    return by_word


def sense_neurons(
    synsets: dict[str, wordnet.Synset],
    by_word: dict[str, list[tuple[str, list[Sentence]]]],
    source: str = "wordnet",
) -> list[SynthNeuron]:
    out = []
    for word, senses in by_word.items():
        split = "test" if word in PLANTED_WORDS else hash_split(f"sense:{word}")
        phrasings: dict[str, list[str]] = {}
        for key, _ in senses:
            syn = synsets[key]
            gloss = _short_definition(syn.definition)
            hyper = [wordnet.lemma_text(synsets[h].words[0]) for h in syn.hypernyms if h in synsets][:1]
            kind = f"a kind of {hyper[0]}" if hyper else gloss
            verb = "to " if syn.pos == "v" else ""
            phrasings[key] = [
                f'the word "{word}" meaning {gloss}',
                f'"{word}" in the sense of {verb}{gloss}',
                f"{word} as {kind}",
                f"{word}, when it means {gloss}",
            ]
        for key, _ in senses:
            forms = {word, word + "s", word + "es", word + "ed", word + "d", word + "ing"}

            def fire(
                s: Sentence, key: str = key, word: str = word, forms: set[str] = forms
            ) -> list[float] | None:
                hit = [1.0 if w in forms else 0.0 for w in s.words]
                if not any(hit):
                    return hit
                if s.meta.get("word") == word:  # a WordNet example of this word: its sense is known
                    return hit if s.meta.get("sense") == key else [0.0] * len(hit)
                return None  # the word in an unknown sense

            others = [k for k, _ in senses if k != key]
            out.append(
                SynthNeuron(
                    f"sense-{word}-{key}",
                    "senses",
                    split,
                    phrasings[key],
                    frozenset({f"word:{word}", f"sense:{key}"}),
                    fire,
                    cues=frozenset(forms),
                    sources=(source,),
                    hard=lambda s, word=word: s.meta.get("word") == word,
                    confusers=[phrasings[k][0] for k in others],
                )
            )
    return out


def class_members(synsets: dict[str, wordnet.Synset], vocab: Counter[str]) -> dict[str, set[str]]:
    out = {}
    for root, number, _, _ in CLASSES:
        key = wordnet.sense(root, "n", number)
        members = {w for w in wordnet.closure_words(synsets, key) if vocab[w] >= 1}
        out[root] = members - PLANTED_WORDS
    return out


def topic_members(synsets: dict[str, wordnet.Synset], vocab: Counter[str]) -> dict[str, set[str]]:
    """Topic domains of WordNet (";c" pointers): domain name -> member words seen in the corpus."""
    members: dict[str, set[str]] = {}
    for synset in synsets.values():
        for domain in synset.domains:
            name = wordnet.lemma_text(synsets[domain].words[0]) if domain in synsets else ""
            for w in synset.words:
                # Only words whose first or second sense is the one in the domain ("end" is not football).
                if (
                    w.isalpha()
                    and w.islower()
                    and vocab[w] >= 1
                    and synset.key in wordnet.senses(w, synset.pos)[:2]
                ):
                    members.setdefault(name, set()).add(w)
    return {k: v - PLANTED_WORDS for k, v in members.items() if k and len(v) >= 8}


def word_group_neuron(name: str, family: str, split: str, phrases: list[str], own: list[str]) -> SynthNeuron:
    """A neuron that fires on any of ``own``'s words (a lexical class, a topic)."""
    return SynthNeuron(
        name,
        family,
        split,
        phrases,
        frozenset(f"word:{w}" for w in own),
        _word_rule(set(own)),
        cues=frozenset(own),
        sources=("corpus", "wordnet"),
        short=phrases[0],
    )


def word_neurons(
    synsets: dict[str, wordnet.Synset],
    vocab: Counter[str],
    by_word: dict[str, list[tuple[str, list[Sentence]]]],
    seed: int,
    n_words: int,
) -> list[SynthNeuron]:
    """Lexical classes, punctuation, topics and named words, with words claimed split by split."""
    rng = random.Random(seed)
    groups: list[tuple[str, str, str, set[str], str]] = []  # (name, family, split, words, plural name)
    members = class_members(synsets, vocab)
    for root, _, name, split in CLASSES:
        groups.append((f"class-{root}", "lexical", split, members[root], name))
    for domain, words in sorted(topic_members(synsets, vocab).items()):
        groups.append((f"topic-{domain}", "topics", hash_split(f"topic:{domain}"), words, domain))
    claims: dict[str, str] = {w: "test" for w in PLANTED_WORDS}
    for word in by_word:
        claims.setdefault(word, "test" if word in PLANTED_WORDS else hash_split(f"sense:{word}"))
    for split in ORDER:
        for _, _, g_split, words, _ in groups:
            if g_split == split:
                for w in words:
                    claims.setdefault(w, split)
    out = []
    for gname, family, split, words, name in groups:
        own = sorted(w for w in words if claims.get(w) == split)
        if len(own) < MIN_CLASS_WORDS:
            continue
        a, b = rng.sample(own[:60] if len(own) > 60 else own, 2)
        if family == "lexical":
            phrases = [p.format(name=name, a=a, b=b) for p in CLASS_PHRASES]
        else:
            phrases = [
                f"words related to {name}",
                f"vocabulary of {name}",
                f"terms used in {name}",
                f"{name}-related words",
            ]
        out.append(word_group_neuron(gname, family, split, phrases, own))
    for mark, name, split in PUNCTUATION:
        out.append(
            SynthNeuron(
                f"punct-{mark}",
                "lexical",
                split,
                [name, f"the {name[:-1]} character", f'"{mark}" tokens'],
                frozenset({f"word:{mark}"}),
                _word_rule({mark}),
                cues=frozenset({mark}),
                sources=("corpus", "wordnet", "numbers"),
                short=name,
            )
        )
    frequent = sorted(
        (w for w, c in vocab.items() if c >= 4 and w.isalpha() and len(w) >= 3 and w not in claims)
    )
    rng.shuffle(frequent)
    pools: dict[str, list[str]] = {s: [] for s in ("train", "val", "test")}
    for w in frequent[:n_words]:
        pools[hash_split(f"word:{w}")].append(w)
    for split, words in pools.items():
        for w in words:
            out.append(
                SynthNeuron(
                    f"word-{w}",
                    "words",
                    split,
                    [f'the word "{w}"', f'"{w}"', f"the token {w}", f'occurrences of "{w}"'],
                    frozenset({f"word:{w}"}),
                    _word_rule({w}),
                    cues=frozenset({w}),
                    sources=("corpus", "wordnet"),
                    short=f'the word "{w}"',
                )
            )
        for i in range(0, len(words) - 2, 3):
            trio = words[i : i + 3]
            out.append(
                SynthNeuron(
                    f"words-{'-'.join(trio)}",
                    "words",
                    split,
                    [f"the words {listed(trio)}"],
                    frozenset(f"word:{w}" for w in trio),
                    _word_rule(set(trio)),
                    cues=frozenset(trio),
                    sources=("corpus", "wordnet"),
                )
            )
    return out
