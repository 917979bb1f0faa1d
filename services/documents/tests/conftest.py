"""Fixtures of the documents service tests: sample dossiers and files, and the real service.

Unit tests use the application in memory. Integration tests start the embedded broker and
the service process on free ports, publish upstream CloudEvents records and call the HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, UTC
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from eventsourcing.persistence import Tracking

from ants_events import IntegrationEvent, topics
from ants_events.base import FeeLine
from ants_events.cert import AttachmentAcceptedV1, AttachmentRejectedV1
from ants_events.payment import PaymentRecordedV1
from ants_events.requests import (
    Holder,
    RequestCancelledV1,
    RequestStartedV1,
    RequestSubmittedV1,
    TheftDeclarationRequestedV1,
    Vehicle,
)
from ants_stack.stack import free_port
from ants_stack.testing import (
    POSTGRES_UNREACHABLE,
    Broker,
    ServiceProcess,
    Tokens,
    TopicSequences,
    bearer,
    postgres_database,
    postgres_reachable,
    publish,
    read_topic,
    service_env,
)
from documents_service.application import DocumentsApplication
from documents_service.integration import inbound
from documents_service.rendering.pdf import DocumentRenderer
from documents_service.storage import FileStore

PARIS = ZoneInfo("Europe/Paris")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


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
        default_factory=lambda: datetime.now(UTC) - timedelta(minutes=20)
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

    def cancelled(self) -> RequestCancelledV1:
        return RequestCancelledV1(
            event_id=uuid.uuid4(), occurred_at=self.started_at + timedelta(minutes=8),
            dossier_id=self.dossier_id, reason="annulée par l'usager",
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
            event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
            dossier_id=self.dossier_id, review_id=uuid.uuid4(), document_id=document_id,
            agent_id=uuid.uuid4(), reason="illisible", note="Document illisible.",
        )

    def accepted(self, document_id: uuid.UUID) -> AttachmentAcceptedV1:
        return AttachmentAcceptedV1(
            event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
            dossier_id=self.dossier_id, review_id=uuid.uuid4(), document_id=document_id,
            agent_id=uuid.uuid4(),
        )


@pytest.fixture
def sample() -> SampleDossier:
    return SampleDossier()


@pytest.fixture
def another_dossier() -> SampleDossier:
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


@dataclass
class Keys:
    tokens: Tokens

    @property
    def public_key(self) -> Path:
        return self.tokens.public_key

    def token(self, account_id: uuid.UUID, *roles: str) -> dict[str, str]:
        return bearer(self.tokens.mint(
            *(roles or ("citizen",)), account_id=account_id, given_name="Jean",
            family_name="Dupont",
        ))


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(Tokens.create(tmp_path_factory.mktemp("keys")))


@dataclass
class RunningService:
    """The service process, its broker, and helpers to feed and observe it."""

    base_url: str
    bootstrap: str
    data_dir: Path
    keys: Keys
    sequences: TopicSequences = field(default_factory=TopicSequences)
    pid: int = 0

    def peak_memory_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        kilobytes = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        return kilobytes / 1024

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=30.0)

    async def publish(self, *events: IntegrationEvent, sequence: int | None = None) -> list[int]:
        """Send records as the producers' relays do; each gets the next sequence of its topic
        unless one is given (to deliver the very same record again)."""
        used = []
        for event in events:
            number = sequence or self.sequences.next(event)
            await publish(self.bootstrap, event, number)
            used.append(number)
        return used

    async def read(self, topic: str) -> list[tuple[bytes | None, dict[str, str], bytes]]:
        """Every record of a topic so far: (key, headers, value)."""
        return [
            (r.key, {k: v.decode() for k, v in r.headers}, r.value)
            for r in await read_topic(self.bootstrap, topic, poll_ms=400, idle_polls=2)
        ]

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
    data_dir = root / "data"
    with Broker(root / "broker.log") as broker:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = service_env(
            broker.bootstrap, data_dir, keys.public_key,
            {"PUBLIC_BASE_URL": base_url, "LOG_FORMAT": "json", **(extra_env or {})},
        )
        with ServiceProcess("documents_service", env, root / "documents.log", port=port) as process:
            assert process.process is not None  # started by entering the block
            yield RunningService(base_url, broker.bootstrap, data_dir, keys, pid=process.process.pid)


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
        pytest.skip(POSTGRES_UNREACHABLE)
    with postgres_database("documents_test") as name:
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
