"""The API names every unit: a latent's URL, page and campaign say it is a latent of which SAE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from store.db import Database
from tests.server.test_api_reference import get
from tests.support.reference_app import reference_app
from tests.support.reference_data import Seeded, seed_reference

SAE = "minilm-l6-l3-topk32"


@pytest.fixture
def both(db: Database) -> tuple[Seeded, Seeded]:
    return seed_reference(db, "neurons-l3"), seed_reference(db, "features-l3", source=SAE)


@pytest.fixture
def client(settings: Settings, db: Database, both: tuple[Seeded, Seeded]) -> Iterator[TestClient]:
    roomy = settings.model_copy(update={"api_anon_burst": 10_000, "api_anon_rate_per_s": 1_000.0})
    with TestClient(reference_app(roomy, db)) as c:
        yield c


def test_unit_urls_keep_neurons_and_latents_apart(client: TestClient, both: tuple[Seeded, Seeded]) -> None:
    neurons, latents = both
    latent = get(client, f"/api/v1/units/minilm-l6/3/{SAE}/2")["neuron"]
    neuron = get(client, "/api/v1/units/minilm-l6/3/neurons/2")["neuron"]
    assert (latent["id"], latent["unit"], latent["source"]) == (latents.neuron_ids[2], "latent", SAE)
    assert (neuron["id"], neuron["unit"], neuron["source"]) == (neurons.neuron_ids[2], "neuron", "neurons")
    assert latent["label"] == f"Feature 2 of SAE {SAE} on layer 3 of minilm-l6"
    assert neuron["label"] == "Neuron 2 of layer 3 of minilm-l6"
    # By id and by campaign: the same identity comes back.
    assert get(client, f"/api/v1/neurons/{latents.neuron_ids[2]}")["neuron"]["source"] == SAE
    assert get(client, "/api/v1/campaigns/features-l3/neurons/2")["neuron"]["unit"] == "latent"
    get(client, "/api/v1/units/minilm-l6/3/other-sae/2", 404)
    get(client, "/api/v1/units/minilm-l6/4/neurons/2", 404)
    get(client, "/api/v1/units/minilm-l6/3/neurons/2", 404, campaign="features-l3")


def test_campaigns_and_lists_say_their_unit(client: TestClient) -> None:
    campaigns = {c["name"]: c for c in get(client, "/api/v1/campaigns")["items"]}
    assert (campaigns["features-l3"]["unit"], campaigns["features-l3"]["source"]) == ("latent", SAE)
    assert (campaigns["neurons-l3"]["unit"], campaigns["neurons-l3"]["source"]) == ("neuron", "neurons")
    units = get(client, "/api/v1/campaigns/features-l3/neurons")["items"]
    assert {(u["unit"], u["source"], u["word"]) for u in units} == {("latent", SAE, "feature")}
    hits = get(client, "/api/v1/search", q="numbers")["items"]
    assert {(h["neuron"]["campaign"], h["neuron"]["unit"]) for h in hits} == {
        ("neurons-l3", "neuron"),
        ("features-l3", "latent"),
    }
    schema = get(client, "/api/v1/openapi.json")
    assert "/api/v1/units/{model}/{layer}/{source}/{index}" in schema["paths"]
    assert "source" in schema["components"]["schemas"]["Neuron"]["required"]


def test_the_browser_unit_page_is_served(client: TestClient) -> None:
    response = client.get(f"/units/minilm-l6/3/{SAE}/2")
    assert response.status_code == 200 and "<html" in response.text.lower()
