"""SIGTERM: a service finishes what it started and exits cleanly within the grace period."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ants_stack.testing import Broker, ServiceProcess, Tokens, service_env

GRACE_SECONDS = 30  # compose's stop_grace_period; the pods have 40 with a 5 s preStop


@pytest.fixture
def payment(tmp_path: Path) -> Iterator[ServiceProcess]:
    with Broker(tmp_path / "broker.log") as broker:
        tokens = Tokens.create(tmp_path)
        env = service_env(broker.bootstrap, tmp_path, tokens.public_key,
                          {"LOG_FORMAT": "json", "REPLICA_ID": "payment-0"},
                          without=("PAYMENT_", "POSTGRES_", "SQLITE_", "PERSISTENCE_"))
        service = ServiceProcess("payment_service", env, tmp_path / "payment.log", cwd=tmp_path)
        service.start()
        try:
            yield service
        finally:
            service.stop()


def test_a_service_asked_to_stop_drains_and_exits_within_the_grace_period(
    payment: ServiceProcess,
) -> None:
    assert payment.process is not None
    began = time.monotonic()
    payment.process.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once it has shut down: the exit status says SIGTERM.
    assert payment.process.wait(timeout=GRACE_SECONDS) in (0, -signal.SIGTERM)
    assert time.monotonic() - began < GRACE_SECONDS
    lines = [json.loads(line) for line in payment.log_text().splitlines()
             if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert events.index("service.stopping") < events.index("service.stopped")
    assert all(line["service"] == "payment" and line["replica"] == "payment-0" for line in lines)
