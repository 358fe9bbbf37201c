"""The test PostgreSQL server: a fresh schema per test, or a skip with the reason."""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import uuid
from typing import Any

import asyncpg
import pytest

__all__ = ["POSTGRES_URL", "fresh_schema_url", "on_postgres", "postgres_unavailable"]


POSTGRES_URL = os.environ.get("DOMAIN_STATS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def on_postgres(statement: str) -> None:
    """Run one statement on the test server, from a thread of its own (whatever loop the caller is in)."""

    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    failure: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(failure, lambda: asyncio.run(run())))
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _capture(failure: list[BaseException], call: Any) -> None:
    try:
        call()
    except BaseException as err:  # handed to the calling thread
        failure.append(err)


@functools.cache
def postgres_unavailable() -> str | None:
    try:
        on_postgres("SELECT 1")
    except Exception as err:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(err).__name__}); set DOMAIN_STATS_TEST_POSTGRES"
    return None


def fresh_schema_url(request: pytest.FixtureRequest) -> str:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    on_postgres(f"CREATE SCHEMA {schema}")
    request.addfinalizer(lambda: on_postgres(f"DROP SCHEMA {schema} CASCADE"))
    return f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}search_path={schema}"
