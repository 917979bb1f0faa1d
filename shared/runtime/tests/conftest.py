"""A real Kafka-protocol broker (the embedded Tansu) per test that needs one."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from ants_stack.stack import broker_binary, free_port


class Broker:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("broker did not start")

    def stop(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait()

    def restart_empty(self) -> None:
        """What a restart of the memory-only broker does: every topic and offset is gone."""
        self.stop()
        self.start()


@pytest.fixture()
def broker() -> Iterator[Broker]:
    running = Broker()
    running.start()
    yield running
    running.stop()
