"""A wider validation split ("wide"): the validation neurons plus lexical classes and sense words
that no neuron of ``build(seed)`` uses, for choices that validation alone cannot judge.

Why: validation has 4 lexical classes and 41 sense neurons, and every candidate of sessions 9-12
scored lexical 1.000 there and moved true-sense-beats-other by one pair at most, so a choice
could not see the two held-out goals it was meant to move (docs/SCORING.md).

Nothing here changes ``build``: training, its per-epoch validation and the test split are
exactly as before (the one command writes the same head file). The extra neurons are built
after every other one, from the dataset's own sentences plus WordNet examples of their own
source, and none of their targets is a target of any neuron of the dataset (training,
validation or test), so nothing they hold was trained on or tested: the sense words are in the
validation bucket of the same hash that splits the dataset's sense words.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

from engine.scoring.trained import wordnet
from engine.scoring.trained.dataset import Dataset, NeuronData, _records, index_sentences
from engine.scoring.trained.families import CLASS_PHRASES, PLANTED_WORDS, SynthNeuron
from engine.scoring.trained.lexicon import (
    MIN_CLASS_WORDS,
    sense_neurons,
    unused_sense_words,
    word_group_neuron,
)

SPLIT = "wide"
SOURCE = "wordnet-wide"
SENSE_WORDS = 200

# (root lemma, sense number, plural name): WordNet classes outside every class of families.CLASSES
# with at least MIN_CLASS_WORDS members in the corpus that no neuron targets (counted 2026-11-30).
WIDE_CLASSES = [
    ("weather_condition", 1, "weather"),
    ("music_genre", 1, "kinds of music"),
    ("road", 1, "roads and streets"),
    ("injury", 1, "injuries"),
    ("clergyman", 1, "clergymen"),
    ("criminal", 1, "criminals"),
    ("ruler", 1, "rulers and monarchs"),
    ("meal", 1, "meals"),
    ("noise", 1, "noises"),
    ("symptom", 1, "symptoms"),
    ("machine", 1, "machines"),
    ("cloud", 1, "clouds, mist and smoke"),
    ("bread", 1, "breads"),
    ("politician", 1, "politicians"),
    ("scientist", 1, "scientists"),
]


def widen(dataset: Dataset, seed: int = 0, sense_words: int = SENSE_WORDS) -> Dataset:
    """The dataset's validation neurons and the extra ones, all in split ``wide``."""
    rng = random.Random(f"{seed}:wide")
    taken = frozenset().union(*(n.neuron.targets for n in dataset.neurons))
    sentences = list(dataset.sentences)
    corpus = (s for s in sentences if s.meta.get("source", "corpus") == "corpus")
    corpus_vocab = Counter(w for s in corpus for w in s.words)
    synsets = wordnet.load()
    extra = _classes(synsets, corpus_vocab, taken, rng)
    # Ambiguous words of the validation bucket that no neuron uses, seen in the corpus.
    rng_senses = random.Random(f"{seed}:wide-senses")
    by_word = unused_sense_words(
        synsets, rng_senses, "val", taken, SOURCE, sense_words, keep=3, accept=lambda w: corpus_vocab[w] >= 1
    )
    sentences += [s for senses in by_word.values() for _, sents in senses for s in sents]
    extra += sense_neurons(synsets, by_word, source=SOURCE)
    by_source, index = index_sentences(sentences)
    neurons = [_relabelled(n) for n in dataset.split("val")]
    for neuron in extra:
        built = _records(replace(neuron, split=SPLIT), sentences, by_source, index, rng, min_top=1)
        if built is not None:
            neurons.append(built)
    return Dataset(sentences, neurons)


def _relabelled(data: NeuronData) -> NeuronData:
    return NeuronData(replace(data.neuron, split=SPLIT), data.top, data.rest)


def _classes(
    synsets: dict[str, wordnet.Synset], vocab: Counter[str], taken: frozenset[str], rng: random.Random
) -> list[SynthNeuron]:
    out = []
    for root, number, name in WIDE_CLASSES:
        members = wordnet.closure_words(synsets, wordnet.sense(root, "n", number))
        free = (w for w in members if w not in PLANTED_WORDS and f"word:{w}" not in taken)
        own = sorted(w for w in free if vocab[w] >= 1)
        if len(own) < MIN_CLASS_WORDS:
            continue
        a, b = rng.sample(own, 2)
        phrases = [p.format(name=name, a=a, b=b) for p in CLASS_PHRASES]
        out.append(word_group_neuron(f"wide-class-{root}", "lexical", SPLIT, phrases, own))
    return out
