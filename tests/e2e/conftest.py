"""Whole-system fixtures: the real broker and every service as processes, over HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ants_stack.stack import Stack, StackConfig
from tests.e2e.client import Api

STORES = ["sqlite", "postgres"]
# Tests that run first: the replicated system of its own on PostgreSQL, before the session's
# systems hold their connections (3 replicas of 6 services need most of a default server's
# 100); the trace test, whose services run in the test process with its global tracer
# provider, before the property-based tests (after them it failed now and then, never alone).
RUN_FIRST = ("test_replicas.py", "test_tracing.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = [item for item in items if item.path.name in RUN_FIRST]
    if first:
        items[:] = first + [item for item in items if item.path.name not in RUN_FIRST]


def postgres_reachable() -> bool:
    try:
        psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres",
                        connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session", params=STORES)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    store = request.param
    prefix = None
    if store == "postgres":
        if not postgres_reachable():
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (make test starts it)")
        prefix = f"e2e_{uuid.uuid4().hex[:8]}"
    config = StackConfig.ephemeral(tmp_path_factory.mktemp(f"stack-{store}"), prefix)
    if prefix:  # where to look when ANTS_KEEP_DATABASES kept them after a failure
        (config.var_dir / "postgres-prefix").write_text(prefix)
    config.with_portal = True
    running = Stack(config)
    try:
        running.start(timeout=90)
    except Exception:
        running.stop()
        raise
    yield running
    running.stop()


@pytest.fixture()
def api(stack: Stack) -> Iterator[Api]:
    with Api(stack.config) as client:
        yield client


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
