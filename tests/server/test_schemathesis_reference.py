"""Schemathesis against the served OpenAPI schema of /api/v1: no input makes the server fail.

The app runs in a real uvicorn server on a free port, over the seeded test database and the
test Redis; schemathesis reads the schema from the server itself. Examples per operation are
few (the default suite stays fast); raise SCHEMATHESIS_EXAMPLES for a longer hunt.
"""

from __future__ import annotations

import threading
import time

import httpx
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.settings import Settings
from engine.embeddings import get_embedder
from server.app import create_app
from server.cli.embedded_redis import free_port
from store.db import Database
from tests.support.reference_data import seed_reference

SCHEMATHESIS_EXAMPLES = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class ReferenceServer:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ReferenceServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def test_api_v1_has_no_server_errors(settings: Settings, db: Database) -> None:
    """Every operation of the served schema, a few generated requests each, all checks passing."""
    seed_reference(db)
    get_embedder()  # loaded once per process; the first semantic search would otherwise wait for it
    roomy = settings.model_copy(update={"api_anon_burst": 100_000, "api_anon_rate_per_s": 10_000.0})
    with ReferenceServer(roomy, db) as server:
        # Hypothesis drives schemathesis directly: its pytest plugin does not run under pytest 9.
        schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15
        for operation in operations:

            @given(case=operation.as_strategy())
            @hypothesis_settings(
                max_examples=SCHEMATHESIS_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=CHECKS)

            check()


def test_the_served_schema_is_the_one_checked(settings: Settings, db: Database) -> None:
    with ReferenceServer(settings, db) as server:
        served = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    assert served["info"]["title"] == "NeuronQuest API"
    assert len(served["paths"]) >= 15
