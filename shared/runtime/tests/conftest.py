"""A real Kafka-protocol broker (the embedded Tansu) per test that needs one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ants_stack.testing import Broker


@pytest.fixture()
def broker() -> Iterator[Broker]:
    with Broker() as running:
        yield running
