"""Search over explanations on the suite's database (SQLite FTS5 here, PostgreSQL FTS in CI's second run)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from engine.embeddings import get_embedder
from store.db import Database
from store.models import Explanation, Score
from store.pagination import BadCursor
from store.search import BadQuery, full_text_search, query_terms, save_embeddings, semantic_search
from tests.support.reference_data import Seeded, seed_reference


@pytest.fixture
def seeded(db: Database) -> Seeded:
    return seed_reference(db)


def texts(page_items: list[dict]) -> list[str]:
    return [item["text"] for item in page_items]


def test_query_terms_drop_stopwords_and_punctuation() -> None:
    assert query_terms("Which neurons are about DATES?") == ["dates"]
    assert query_terms('code "AND" (NEAR* :x') == ["code", "near", "x"]
    with pytest.raises(BadQuery):
        query_terms("?? the ...")


def test_full_text_matches_stems_and_ranks(db: Database, seeded: Seeded) -> None:
    with db.session() as s:
        assert texts(full_text_search(s, "date").items) == ["dates: days, months and years"]  # stemmed
        hits = full_text_search(s, "python code words").items
        # Two of three words match the Python explanation, one the "word 'the'" one.
        assert texts(hits)[0].startswith("Python source code")
        assert hits[0]["relevance"] > hits[1]["relevance"]
        assert full_text_search(s, "zebra").items == []


def test_full_text_follows_edits_deletes_and_moderation(db: Database, seeded: Seeded) -> None:
    with db.session() as s:
        numbers = s.get(Explanation, seeded.explanation_ids[1])
        assert numbers is not None
        numbers.text = "prime numbers and zebra stripes"
        s.add(numbers)
        s.commit()
        assert [h["id"] for h in full_text_search(s, "zebra").items] == [numbers.id]
        numbers.status = "removed"
        s.add(numbers)
        s.commit()
        assert full_text_search(s, "zebra").items == []
        for score in s.exec(select(Score).where(Score.explanation_id == seeded.explanation_ids[4])):
            s.delete(score)
        s.delete(s.get(Explanation, seeded.explanation_ids[4]))
        s.commit()
        assert full_text_search(s, "script html").items == []


def test_full_text_keyset_pages_cover_every_hit_once(db: Database, seeded: Seeded) -> None:
    with db.session() as s:
        for n in range(7):
            s.add(Explanation(neuron_id=seeded.neuron_ids[3], text=f"long words number {n}"))
        s.commit()
        everything = full_text_search(s, "long words", limit=100).items
        paged, cursor = [], None
        while True:
            page = full_text_search(s, "long words", limit=3, cursor=cursor)
            paged += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [h["id"] for h in paged] == [h["id"] for h in everything]
        assert len(everything) == 8
        with pytest.raises(BadCursor):
            full_text_search(s, "long", cursor="bm90LWEtY3Vyc29y")
        campaign_only = full_text_search(s, "long words", campaign_id=-1).items
        assert campaign_only == []


def _embed_all(session: Session, seeded: Seeded) -> None:
    embedder = get_embedder()
    rows = [(i, session.get(Explanation, i).text) for i in seeded.explanation_ids]  # type: ignore[union-attr]
    save_embeddings(
        session,
        embedder.name,
        list(zip(seeded.explanation_ids, embedder.embed([t for _, t in rows]), strict=True)),
    )


def test_semantic_search_finds_neurons_about_dates(db: Database, seeded: Seeded) -> None:
    embedder = get_embedder()
    with db.session() as s:
        query = embedder.embed(["which neurons are about dates?"])[0]
        assert semantic_search(s, query, embedder.name).items == []  # nothing embedded yet
        _embed_all(s, seeded)
        page = semantic_search(s, query, embedder.name)
        assert page.extra["unembedded"] == 0
        ranked = [(hit["neuron"]["index"], hit["explanation"]["text"]) for hit in page.items]
        assert ranked[0] == (0, "dates: days, months and years")
        sims = [hit["similarity"] for hit in page.items]
        assert sims == sorted(sims, reverse=True) and len(ranked) == 3  # neuron 3 has no explanation
        code = semantic_search(s, embedder.embed(["programming language syntax"])[0], embedder.name)
        assert code.items[0]["neuron"]["index"] == 1
        first = semantic_search(s, query, embedder.name, limit=2)
        rest = semantic_search(s, query, embedder.name, limit=2, cursor=first.next_cursor)
        assert [h["neuron"]["id"] for h in first.items + rest.items] == [
            h["neuron"]["id"] for h in page.items
        ]
