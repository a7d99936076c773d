"""The family-friendly corpus filter: rude documents never become clues, ordinary ones stay."""

from __future__ import annotations

from engine.corpus import read_documents
from engine.corpus.clean import ALLOWED, FilterCount, blocked_words, family_friendly, is_family_friendly


def test_rude_documents_are_removed_and_counted() -> None:
    docs = ["The cat sat on the mat.", "What the HELL is this?", "A blow job ad.", "God save the queen."]
    count = FilterCount()
    assert list(family_friendly(docs, count)) == ["The cat sat on the mat.", "God save the queen."]
    assert (count.kept, count.removed) == (2, 2)


def test_whole_words_only_and_the_list_is_the_packages() -> None:
    singles, pairs = blocked_words()
    assert len(singles) > 800 and pairs  # better-profanity's maintained list, not a hand-made one
    assert not ALLOWED & singles
    assert is_family_friendly("a classic assessment of Scunthorpe")  # no match inside words
    assert not is_family_friendly("You ass.")


def test_no_kept_document_of_the_default_corpus_holds_a_listed_word() -> None:
    count = FilterCount()
    kept = list(family_friendly(read_documents(None), count))
    assert all(is_family_friendly(doc) for doc in kept[:2000])
    assert 400 < count.removed < 1000 and count.kept + count.removed == 16_000  # docs/CORPUS.md
