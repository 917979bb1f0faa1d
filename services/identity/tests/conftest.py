"""Fixtures of the identity service tests: a real broker and the real service process.

The broker and the service listen on free ports of 127.0.0.1, so that they never disturb a
running system or another service's tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from ants_stack.stack import free_port
from ants_stack.testing import Broker, ServiceProcess, service_env


class IdentityService(ServiceProcess):
    """The identity service process, run in its data folder."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        port = free_port()
        super().__init__(
            "identity_service", env, data_dir / f"service-{port}.log", port=port, cwd=data_dir
        )
        self.data_dir = data_dir

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "identity"

    def http(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    def mails_to(self, address: str) -> list[EmailMessage]:
        """The mails the service sent to an address, oldest first (the embedded mail drop)."""
        found = []
        for path in sorted((self.store_dir / "mail").glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == address:
                found.append(message)
        return found  # type: ignore[return-value]


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with Broker(tmp_path_factory.mktemp("broker") / "broker.log") as shared:
        yield shared.bootstrap


@pytest.fixture(scope="session")
def start_identity(broker: str) -> Iterator[Callable[..., IdentityService]]:
    """Start an identity service process in a data folder; all are stopped at the end."""
    started: list[IdentityService] = []

    def start(data_dir: Path, extra_env: dict[str, str] | None = None) -> IdentityService:
        data_dir.mkdir(parents=True, exist_ok=True)
        keys = data_dir / "keys"
        env = service_env(
            broker, data_dir, keys / "token-public.pem",
            {"AUTH_PRIVATE_KEY_FILE": str(keys / "token-private.pem"), **(extra_env or {})},
            without=("IDENTITY_", "POSTGRES_", "SQLITE_", "PERSISTENCE_", "FORWARDED_ALLOW_IPS"),
        )
        service = IdentityService(data_dir, env)
        started.append(service)
        service.start()
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture(scope="session")
def identity_service(
    start_identity: Callable[..., IdentityService], tmp_path_factory: pytest.TempPathFactory
) -> IdentityService:
    """The service on SQLite with its default settings, shared by tests that each use their
    own addresses."""
    return start_identity(tmp_path_factory.mktemp("identity"))


@pytest.fixture
def new_address() -> Callable[[], str]:
    return lambda: f"marie.{uuid.uuid4().hex[:10]}@example.fr"

