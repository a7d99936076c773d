"""A scratch PostgreSQL database for one test, on the suite's PostgreSQL or the local one.

Tests that need PostgreSQL whatever database the suite runs on (a database behind a proxy
that can be cut) create their own database here and drop it afterwards, so they never touch
the suite's ``test`` database that another run may be using.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

from tests.conftest import TEST_DATABASE_URL

# The local server CI and the development machine have (trust auth, database `test`).
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return TEST_DATABASE_URL if TEST_DATABASE_URL.startswith("postgresql") else LOCAL_POSTGRES


def unavailable_reason() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        with psycopg.connect(admin_url(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL at {admin_url()}: {exc}"


@contextmanager
def scratch_database() -> Iterator[tuple[str, str, int]]:
    """A new empty database: (its name, the server's host, port); dropped on exit."""
    name = f"nq_scratch_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        info = conn.info
        host, port = info.host, int(info.port)
    try:
        yield name, host, port
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def url_for(name: str, host: str, port: int) -> str:
    """The URL of database ``name`` on host:port, with the admin URL's user and password."""
    info = conninfo_to_dict(admin_url())
    url = URL.create(
        "postgresql",
        username=str(info.get("user") or "postgres"),
        password=str(info["password"]) if info.get("password") else None,
        host=host,
        port=port,
        database=name,
    )
    return url.render_as_string(hide_password=False)
