"""Real parts for every test: a redis-server on a random port and a real database.

The database is SQLite unless NQ_TEST_DATABASE_URL names another (CI runs the suite
a second time on PostgreSQL). Tests get a clean database and a flushed Redis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from sqlmodel import SQLModel

from config.settings import Settings
from server.cli.embedded_redis import EmbeddedRedis
from store.db import Database, make_engine

# The one place tests read the environment: which database the suite runs on.
TEST_DATABASE_URL = os.environ.get("NQ_TEST_DATABASE_URL", "")


def _reset_postgres(url: str) -> None:
    engine = make_engine(Settings(database_url=url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nq")


@pytest.fixture(scope="session")
def redis_server(session_dir: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(session_dir / "redis", persist=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(session_dir: Path) -> str:
    if TEST_DATABASE_URL:
        _reset_postgres(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    return f"sqlite:///{session_dir / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def base_settings(session_dir: Path, redis_server: EmbeddedRedis, database_url: str) -> Settings:
    return Settings(
        data_dir=session_dir / "data",
        database_url=database_url,
        redis_url=redis_server.url,
        secret_key="test-secret-key-of-enough-length-for-hmac",
    )


@pytest.fixture(scope="session")
def session_db(base_settings: Settings) -> Iterator[Database]:
    db = Database(base_settings)
    yield db
    db.dispose()


def _truncate_all(db: Database) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def db(session_db: Database) -> Database:
    """The session's database, emptied for this test."""
    _truncate_all(session_db)
    return session_db


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path, db: Database, redis_client: redis.Redis) -> Settings:
    """Settings for one test: its own data dir, a clean database and Redis."""
    return base_settings.model_copy(update={"data_dir": tmp_path / "data"})


DATABASE_FIXTURES = {"db", "session_db", "settings", "database_url", "base_settings"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the second (PostgreSQL) run, run only the tests that touch the database.

    A test that uses none of the database fixtures would run exactly as on SQLite,
    so running it again only costs CI time.
    """
    if not TEST_DATABASE_URL:
        return
    selected, deselected = [], []
    for item in items:
        uses_db = DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        (selected if uses_db else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
