"""Every /api/v1 endpoint against the real database and Redis, through the real Starlette app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from server.api.apikeys import create_key
from store.db import Database
from store.reference_models import RelatedNeuron
from tests.support.reference_app import reference_app
from tests.support.reference_data import Seeded, seed_reference


@pytest.fixture
def seeded(db: Database) -> Seeded:
    return seed_reference(db)


@pytest.fixture
def client(settings: Settings, db: Database, seeded: Seeded) -> Iterator[TestClient]:
    roomy = settings.model_copy(update={"api_anon_burst": 10_000, "api_anon_rate_per_s": 1_000.0})
    with TestClient(reference_app(roomy, db)) as c:
        yield c


def get(client: TestClient, path: str, status: int = 200, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def walk(client: TestClient, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, page by page through next_cursor."""
    items, cursor = [], None
    for _ in range(100):
        page = get(client, path, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def test_index_links_and_openapi(client: TestClient) -> None:
    index = get(client, "/api/v1")
    assert index["links"]["leaderboards"] == "/api/v1/leaderboards"
    schema = get(client, "/api/v1/openapi.json")
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/neurons/{neuron_id}" in schema["paths"]


def test_campaigns_and_neurons_paginate(client: TestClient, seeded: Seeded) -> None:
    campaigns = get(client, "/api/v1/campaigns")
    assert [c["name"] for c in campaigns["items"]] == [seeded.campaign]
    one = get(client, f"/api/v1/campaigns/{seeded.campaign}")
    assert (one["model"], one["layer"]) == ("minilm-l6", 3)
    neurons = walk(client, f"/api/v1/campaigns/{seeded.campaign}/neurons", limit=3)
    assert [n["index"] for n in neurons] == [0, 1, 2, 3]
    assert get(client, "/api/v1/campaigns/nope", 404)["error"] == "not_found"


def test_neuron_page_by_index_and_id(client: TestClient, seeded: Seeded) -> None:
    page = get(client, f"/api/v1/campaigns/{seeded.campaign}/neurons/0")
    assert page == get(client, f"/api/v1/neurons/{seeded.neuron_ids[0]}")
    assert page["neuron"]["model"] == "minilm-l6" and page["neuron"]["layer"] == 3
    assert page["stats"]["firing_frequency"] == 0.125
    assert page["stats"]["histogram"]["counts"] == [20, 4, 8]
    assert len(page["top_records"]) == 3 and len(page["random_records"]) == 1
    first = page["top_records"][0]
    assert first["shades"][first["max_index"]] == 10  # the hottest token is fully shaded
    assert all(0 <= v <= 10 for r in page["top_records"] for v in r["shades"])
    # Ranked by best score: "dates..." (0.6) before "numbers" (best 0.35, by the llm simulator).
    texts = [e["text"] for e in page["explanations"]]
    assert texts[0].startswith("dates") and texts[1] == "numbers"
    numbers = page["explanations"][1]
    assert numbers["best_score"]["simulator"] == "llm" and numbers["best_score"]["version"] == "llm-2"
    assert numbers["votes"] == 2 and len(numbers["scores"]) == 2
    # History: newest first, with who and when.
    assert [h["author"] for h in page["history"]] == ["bob", "alice"]
    assert page["history"][0]["created_at"].startswith("2026-11-01T12:01")
    assert get(client, f"/api/v1/campaigns/{seeded.campaign}/neurons/99", 404)["error"] == "not_found"
    assert get(client, "/api/v1/neurons/2147483648", 404)["error"] == "not_found"
    assert get(client, f"/api/v1/neurons/{seeded.neuron_ids[0]}", 400, top="many")["error"] == "bad_parameter"


def test_unscored_explanations_rank_by_votes(client: TestClient, seeded: Seeded) -> None:
    page = get(client, f"/api/v1/neurons/{seeded.neuron_ids[2]}")
    # "the word 'the'" has no score but a vote; the html one has a (low) score: scored ranks first.
    assert [e["best_score"] is not None for e in page["explanations"]] == [True, False]
    assert page["explanations"][1]["votes"] == 1


def test_activations_paginate_top_then_random(client: TestClient, seeded: Seeded) -> None:
    path = f"/api/v1/neurons/{seeded.neuron_ids[1]}/activations"
    records = walk(client, path, limit=1)
    assert [(r["kind"], r["rank"]) for r in records] == [("top", 0), ("top", 1), ("top", 2), ("random", 0)]
    assert [r["kind"] for r in walk(client, path, limit=2, kind="random")] == ["random"]
    assert get(client, path, 400, kind="bogus")["error"] == "bad_parameter"


def test_explanations_scores_votes(client: TestClient, seeded: Seeded) -> None:
    everything = walk(client, "/api/v1/explanations", limit=2)
    assert [e["id"] for e in everything] == seeded.explanation_ids
    per_campaign = walk(client, f"/api/v1/campaigns/{seeded.campaign}/explanations", limit=4)
    assert per_campaign == everything
    of_neuron = walk(client, f"/api/v1/neurons/{seeded.neuron_ids[0]}/explanations", limit=1)
    assert [e["author"] for e in of_neuron] == ["alice", "bob"]

    numbers = seeded.explanation_ids[1]
    assert get(client, f"/api/v1/explanations/{numbers}")["text"] == "numbers"
    scores = walk(client, f"/api/v1/explanations/{numbers}/scores", limit=1)
    assert [(s["simulator"], s["version"], s["score"]) for s in scores] == [
        ("embedding", "emb-1", 0.22),
        ("llm", "llm-2", 0.35),
    ]
    votes = walk(client, f"/api/v1/explanations/{numbers}/votes", limit=1)
    assert sorted(v["voter"] for v in votes) == ["alice", "carol"]
    assert get(client, "/api/v1/explanations/999999", 404)["error"] == "not_found"


def test_related_neurons(client: TestClient, db: Database, seeded: Seeded) -> None:
    a, b, c = seeded.neuron_ids[:3]
    with db.session() as s:
        s.add(RelatedNeuron(neuron_id=a, other_id=c, rank=0, correlation=0.8))
        s.add(RelatedNeuron(neuron_id=a, other_id=b, rank=1, correlation=0.1))
        s.commit()
    related = get(client, f"/api/v1/neurons/{a}/related")["items"]
    assert [(r["index"], r["correlation"]) for r in related] == [(2, 0.8), (1, 0.1)]
    assert get(client, f"/api/v1/neurons/{a}")["related"] == related


@pytest.mark.parametrize("cursor", ["garbage!", "WyJvdGhlciIsMV0", "W10", "eyJhIjoxfQ"])
def test_bad_cursors_are_refused(client: TestClient, cursor: str) -> None:
    body = get(client, "/api/v1/explanations", 400, cursor=cursor)
    assert body["error"] == "bad_parameter" and "cursor" in body["message"]


@pytest.mark.parametrize("limit", ["0", "101", "x", "-3"])
def test_bad_limits_are_refused(client: TestClient, limit: str) -> None:
    assert get(client, "/api/v1/campaigns", 400, limit=limit)["error"] == "bad_parameter"


def test_text_search_ranks_and_paginates(client: TestClient, seeded: Seeded) -> None:
    hits = get(client, "/api/v1/search", q="Which neurons are about dates?")
    assert hits["terms"] == ["dates"]
    assert [h["text"] for h in hits["items"]] == ["dates: days, months and years"]
    assert hits["items"][0]["neuron"] == {
        "id": seeded.neuron_ids[0],
        "campaign": seeded.campaign,
        "index": 0,
        **{"unit": "neuron", "source": "neurons", "model": "minilm-l6", "layer": 3},
    }
    both = walk(client, "/api/v1/search", limit=1, q="python OR the words")
    assert {h["neuron"]["index"] for h in both} == {1, 2}
    # Punctuation and FTS syntax never reach the query parser.
    assert get(client, "/api/v1/search", q='"unbalanced AND (NEAR* :col')["items"] == []
    assert get(client, "/api/v1/search", 400, q="?! ...")["error"] == "bad_parameter"
    assert get(client, "/api/v1/search", 400)["error"] == "bad_parameter"
    assert get(client, "/api/v1/search", 404, q="dates", campaign="nope")["error"] == "not_found"


def test_anonymous_use_is_rate_limited_per_ip(settings: Settings, db: Database, seeded: Seeded) -> None:
    tight = settings.model_copy(update={"api_anon_burst": 3, "api_anon_rate_per_s": 0.01})
    with TestClient(reference_app(tight, db)) as c:
        statuses = [c.get("/api/v1/campaigns").status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = c.get("/api/v1/campaigns")
        assert refused.json()["error"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        # Another IP has its own bucket.
        other = TestClient(reference_app(tight, db), client=("10.0.0.9", 5000))
        with other:
            assert other.get("/api/v1/campaigns").status_code == 200


def test_api_keys_get_their_own_bucket(settings: Settings, db: Database, seeded: Seeded) -> None:
    tight = settings.model_copy(update={"api_anon_burst": 1, "api_anon_rate_per_s": 0.01})
    with db.session() as s:
        _, secret = create_key(s, "researcher", rate_per_s=100.0, burst=50)
    with TestClient(reference_app(tight, db)) as c:
        assert c.get("/api/v1/campaigns").status_code == 200
        assert c.get("/api/v1/campaigns").status_code == 429
        keyed = [c.get("/api/v1/campaigns", headers={"X-API-Key": secret}) for _ in range(10)]
        assert {r.status_code for r in keyed} == {200}
        assert keyed[0].headers["x-ratelimit-limit"] == "50"
        bad = c.get("/api/v1/campaigns", headers={"X-API-Key": "nq_not-a-key"})
        assert bad.status_code == 401 and bad.json()["error"] == "bad_api_key"


def test_neuron_html_page_is_served(client: TestClient, seeded: Seeded) -> None:
    response = client.get(f"/neurons/{seeded.campaign}/0")
    assert response.status_code == 200
    assert "neuron.js" in response.text
