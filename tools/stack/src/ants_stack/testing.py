"""What the services' integration tests share: a real broker, a real service process,
a throwaway PostgreSQL database, tokens, and Kafka helpers that act as the producers' relays.

Everything listens on 127.0.0.1 on free ports, so that tests never disturb a running system
(`make run` uses fixed ports) nor one another.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from ants_events import IntegrationEvent, to_record, topics
from ants_events.signatures import RecordSigner, TrustedProducers
from ants_identity_provider.identities import demo_birthdate
from ants_runtime.auth import Principal, TokenIssuer, VerifiedIdentity, ensure_keypair
from ants_runtime.signing import pin_producer_keys
from ants_stack.stack import broker_binary, free_port, port_in_use, terminate

if TYPE_CHECKING:
    import psycopg
    from aiokafka.structs import ConsumerRecord

T = TypeVar("T")

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
POSTGRES_UNREACHABLE = f"PostgreSQL is not reachable on {POSTGRES_HOST}:{POSTGRES_PORT}"


def _tail(path: Path | None, chars: int = 4000) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_text(errors="replace")[-chars:]


def _open_log(path: Path | None) -> IO[bytes] | int:
    return path.open("ab") if path is not None else subprocess.DEVNULL


class _Started:
    """`with thing:` starts it, and stops it on the way out."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- the broker ------------------------------------------------------------------------


class Broker(_Started):
    """The embedded Kafka-protocol broker (Tansu), memory only: a restart forgets every topic
    and offset. It keeps its port across restarts, so clients reconnect to the same address."""

    def __init__(self, log_file: Path | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        url = f"tcp://{self.bootstrap}"
        command = [broker_binary(), "broker", "--listener-url", url,
                   "--advertised-listener-url", url]
        log = _open_log(self.log_file)
        try:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        finally:
            if not isinstance(log, int):
                log.close()  # the child has its own copy
        deadline = time.monotonic() + timeout
        while not port_in_use(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the broker did not start:\n{_tail(self.log_file, 2000)}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
            self.process = None

    def restart_empty(self) -> None:
        """What a restart of the memory-only broker does: every topic and offset is gone."""
        self.stop()
        self.start()


# --- PostgreSQL ------------------------------------------------------------------------


def postgres_reachable() -> bool:
    return port_in_use(POSTGRES_PORT)


def postgres_connect(dbname: str = "postgres") -> psycopg.Connection[Any]:
    """An autocommit connection as the `postgres` superuser (the test server trusts it)."""
    import psycopg

    return psycopg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user="postgres", dbname=dbname, autocommit=True
    )


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A database of its own, `<prefix>_<random>`, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with postgres_connect() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield name
    finally:
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        with postgres_connect() as connection:
            connection.execute(drop)  # type: ignore[arg-type]


# --- tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """A key pair and the tokens signed with it, as the identity service would issue them."""

    private_key: Path
    public_key: Path

    @classmethod
    def create(cls, folder: Path) -> Tokens:
        private, public = folder / "private.pem", folder / "public.pem"
        ensure_keypair(private, public)
        return cls(private, public)

    @cached_property
    def issuer(self) -> TokenIssuer:
        return TokenIssuer(self.private_key.read_bytes())

    def mint(
        self, *roles: str, account_id: uuid.UUID | None = None, given_name: str = "Dominique",
        family_name: str = "Test", email: str | None = None, verified: bool = True,
    ) -> str:
        """A signed token; the e-mail address defaults to one derived from the account id.

        A citizen's identity is verified by default (as after signing in with FranceConnect),
        with the birth date of the demo person of that name; `verified=False` for an account
        whose names are only self-asserted."""
        account_id = account_id or uuid.uuid4()
        identity = (
            VerifiedIdentity(given_name, family_name, demo_birthdate(given_name, family_name))
            if verified and "citizen" in roles else None
        )
        return self.issuer.issue(Principal(
            account_id, email or f"{account_id.hex[:8]}@example.test", given_name, family_name,
            frozenset(roles), identity,
        ))


def bearer(token: str | None) -> dict[str, str]:
    """The Authorization header of a token (none without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


# --- a service process -----------------------------------------------------------------


def service_env(
    bootstrap: str, data_dir: Path, public_key: Path, extra: Mapping[str, str] | None = None,
    *, without: tuple[str, ...] = (),
) -> dict[str, str]:
    """This process's environment (minus the variables starting with `without`), pointed at
    the broker, a data folder and the token public key."""
    install_test_producer_keys(data_dir)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(without)},
        "DATA_DIR": str(data_dir),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "AUTH_PUBLIC_KEY_FILE": str(public_key),
        **(extra or {}),
    }


class ServiceProcess(_Started):
    """`python -m <package>` on a free port (HTTP_HOST and HTTP_PORT are set here), its
    output appended to a log file; `start` returns once GET /health answers 200."""

    def __init__(
        self, package: str, env: Mapping[str, str], log_file: Path, *,
        port: int | None = None, cwd: Path | None = None,
    ) -> None:
        self.package = package
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(self.port)}
        self.log_file = log_file
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.package], env=self.env, cwd=self.cwd,
                stdout=log, stderr=subprocess.STDOUT,
            )
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        assert self.process is not None, "not started"
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                problem = f"exited with {self.process.returncode}"
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                problem = f"was not healthy after {timeout:.0f} s"
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.package} {problem}:\n{_tail(self.log_file)}")

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, grace=15.0)
            self.process = None

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 20.0, interval: float = 0.2
) -> T:
    """Poll until the probe returns something truthy (the services work asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still nothing after {timeout} s: {probe}")
        await asyncio.sleep(interval)


# --- Kafka -----------------------------------------------------------------------------


@dataclass
class TopicSequences:
    """Per-topic increasing sequence numbers, as each producer's outbox relay numbers its
    records (consumers track the highest one processed per topic)."""

    counters: dict[str, Iterator[int]] = field(default_factory=dict)

    def next(self, contract: IntegrationEvent) -> int:
        topic = topics.BY_PRODUCER[contract.producer]
        return next(self.counters.setdefault(topic, itertools.count(1)))


@functools.cache
def _test_producer_keys() -> Path:
    """One key pair per producing service for this test run (see install_test_producer_keys)."""
    folder = Path(tempfile.mkdtemp(prefix="ants-test-producers-"))
    atexit.register(shutil.rmtree, folder, True)
    pin_producer_keys(folder, topics.BY_PRODUCER, folder / "keys" / "producers")
    return folder


def install_test_producer_keys(data_dir: Path) -> None:
    """Give services started on `data_dir` the test run's producer keys (kept when already
    there) and pin them all, so that `publish` speaks for any producer as its relay would."""
    source = _test_producer_keys()
    for service in topics.BY_PRODUCER:
        for name in ("ledger-private.pem", "ledger-public.pem"):
            target = data_dir / service / "keys" / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / service / "keys" / name, target)
    pin_producer_keys(data_dir, topics.BY_PRODUCER, data_dir / "keys" / "producers")


def producer_signer_of(producer: str) -> RecordSigner:
    return RecordSigner.from_file(_test_producer_keys() / producer / "keys" / "ledger-private.pem")


def trusted_test_producers() -> TrustedProducers:
    """The pinned keys of the test run's producers, for a consumer built in a test."""
    return TrustedProducers.from_dir(_test_producer_keys() / "keys" / "producers")


def consumed_record(contract: IntegrationEvent, sequence: int, offset: int | None = None) -> Any:
    """A contract as a consumer receives it from the broker (what `handle_batch` takes):
    signed by the test run's key of its producer."""
    record = to_record(contract, sequence=sequence)
    headers = producer_signer_of(contract.producer).sign(record.headers, record.key, record.value)
    return types.SimpleNamespace(
        topic=record.topic, partition=0, offset=sequence if offset is None else offset,
        key=record.key, value=record.value, headers=[(k, v.encode()) for k, v in headers.items()],
    )


async def publish(
    bootstrap: str, contract: IntegrationEvent, sequence: int, *, signed: bool = True
) -> None:
    """Publish a contract as its producer's relay does: a CloudEvents record on partition 0,
    keyed by the dossier id, carrying the given sequence, signed with the test run's key of
    its producer (see install_test_producer_keys) unless `signed` is false."""
    record = to_record(contract, sequence=sequence)
    headers = producer_signer_of(contract.producer).sign(record.headers, record.key, record.value) if signed else record.headers
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            record.topic, value=record.value, key=record.key, partition=0,
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def topic_reader(
    bootstrap: str, topic: str
) -> AsyncIterator[tuple[AIOKafkaConsumer, TopicPartition]]:
    """A consumer of partition 0 of a topic, at its beginning (no group, nothing committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        yield consumer, partition
    finally:
        await consumer.stop()


async def read_topic(
    bootstrap: str, topic: str, *, poll_ms: int = 700, idle_polls: int = 1
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic so far: read until `idle_polls` polls in a row bring nothing."""
    async with topic_reader(bootstrap, topic) as (consumer, partition):
        records: list[ConsumerRecord[bytes, bytes]] = []
        idle = 0
        while idle < idle_polls:
            batch = (await consumer.getmany(partition, timeout_ms=poll_ms)).get(partition, [])
            records += batch
            idle = 0 if batch else idle + 1
        return records
