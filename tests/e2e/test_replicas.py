"""Three replicas of every backend service on PostgreSQL, killed with SIGKILL and restarted at
random while citizens go through loss and theft cases and a CERT agent reviews: every dossier
completes, each payment and certificate takes effect once, the relays change hands, and
clients see no server error (calls cut by a kill are sent again, as any client would)."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from ants_stack.stack import SERVICES, Stack, StackConfig
from tests.e2e import files
from tests.e2e.client import Api, User, eventually, read_topic
from tests.e2e.conftest import postgres_reachable

REPLICAS = 3
LOSS_CASES = int(os.environ.get("REPLICA_RUN_LOSS_CASES", "30"))
THEFT_CASES = int(os.environ.get("REPLICA_RUN_THEFT_CASES", "4"))


class SpreadApi(Api):
    """Calls go to a random replica; a call cut by a killed replica is sent again elsewhere.
    Server errors (5xx) are counted: there must be none."""

    def __init__(self, config: StackConfig) -> None:
        super().__init__(config)
        self.server_errors: list[str] = []
        self.resent = 0

    def call(self, method: str, service: str, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        headers = {**kw.pop("headers", {}), **(user.headers if user else {})}
        urls = self.config.replica_urls(service)
        deadline = time.monotonic() + 90
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            base = random.choice(urls)
            try:
                response = self.http.request(method, f"{base}{path}", headers=headers, **kw)
            except httpx.TransportError:
                self.resent += 1
                time.sleep(0.05 * min(attempt, 10))
                continue
            if response.status_code >= 500:
                self.server_errors.append(f"{method} {service}{path.split('?')[0]}: {response.status_code} {response.text[:200]}")
            return response
        raise AssertionError(f"{method} {service}{path}: no replica answered")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (make test starts it)")
    config = StackConfig.ephemeral(
        tmp_path_factory.mktemp("stack-replicas"), f"e2e_{uuid.uuid4().hex[:8]}", replicas=REPLICAS
    )
    config.with_portal = False
    stack = Stack(config)
    try:
        stack.start(timeout=180)
    except Exception:
        stack.stop()
        raise
    yield stack
    stack.stop()


class Killer(threading.Thread):
    """Every second or so kills a replica (SIGKILL), every other time the one running a relay,
    and restarts it a moment later; never the last live replica of a service."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.stop = threading.Event()
        self.kills: list[str] = []
        self.relay_holders_killed = 0
        self.error: BaseException | None = None
        self.down: set[str] = set()
        self.lock = threading.Lock()

    def names(self, service: str) -> list[str]:
        return [service if k == 0 else f"{service}.{k}" for k in range(REPLICAS)]

    def relay_holder(self, service: str) -> str | None:
        for name in self.names(service):
            if name in self.down:
                continue
            try:
                health = httpx.get(f"{self.stack.instance_url(name)}/health", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                continue
            if health.get("replica", {}).get("runs_relay"):
                return name
        return None

    def restart_later(self, name: str) -> None:
        time.sleep(random.uniform(0.2, 1.5))
        self.stack.start_service(name)
        url = f"{self.stack.instance_url(name)}/health"
        eventually(lambda: _answers(url), 120, 0.2)
        with self.lock:
            self.down.discard(name)

    def run(self) -> None:
        try:
            while not self.stop.wait(random.uniform(0.7, 1.5)):
                service = random.choice(SERVICES)
                with self.lock:
                    alive = [n for n in self.names(service) if n not in self.down]
                if len(alive) < 2:
                    continue
                victim = self.relay_holder(service) if len(self.kills) % 2 == 0 else None
                if victim is None:
                    victim = random.choice(alive)
                else:
                    self.relay_holders_killed += 1
                process = self.stack.processes[victim]
                process.send_signal(signal.SIGKILL)
                process.wait()
                with self.lock:
                    self.down.add(victim)
                self.kills.append(victim)
                threading.Thread(target=self.restart_later, args=(victim,), daemon=True).start()
            deadline = time.monotonic() + 30
            while self.down and time.monotonic() < deadline:
                time.sleep(0.2)
            self.stack.wait_healthy(120)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error


def loss_case(api: SpreadApi, owner: User, number: int) -> tuple[User, str]:
    plate = f"ZZ-{number + 1:03d}-AD"  # a block of the test fleet no other test uses
    dossier_id = start(api, owner, plate, "perte")
    pay(api, owner, dossier_id)
    return owner, dossier_id


def theft_case(api: SpreadApi, agent: User, owner: User, number: int) -> tuple[User, str]:
    plate = f"ZZ-{number + 1:03d}-AE"
    dossier_id = start(api, owner, plate, "vol")
    api.wait_status(owner, dossier_id, "awaiting_declaration", timeout=120)
    sent = api.call("POST", "documents", f"/dossiers/{dossier_id}/attachments", owner,
                    files={"file": ("recepisse.pdf", files.pdf(), "application/pdf")})
    assert sent.status_code == 201, sent.text

    def review() -> dict[str, Any] | None:
        queue = api.call("GET", "cert", "/reviews?status=pending", agent).json()
        return next((r for r in queue if r["dossier_id"] == dossier_id), None)

    pending = eventually(review, 120, 0.5)
    api.call("POST", "cert", f"/reviews/{pending['review_id']}/claim", agent)
    accepted = api.call("POST", "cert", f"/reviews/{pending['review_id']}/accept", agent, json={"note": "Conforme."})
    assert accepted.status_code in (200, 409), accepted.text
    api.wait_status(owner, dossier_id, "ready_for_payment", timeout=120)
    pay(api, owner, dossier_id)
    return owner, dossier_id


def start(api: SpreadApi, owner: User, plate: str, reason: str) -> str:
    started = api.start(owner, plate, reason)
    if started.status_code == 201:
        dossier_id = started.json()["dossier_id"]
    else:  # a first try was stored but its answer cut by a kill: the dossier is in the basket
        assert started.status_code == 409, started.text
        basket = api.call("GET", "requests", "/dossiers", owner).json()
        dossier_id = next(d["dossier_id"] for d in basket if d["plate"] == plate)
    for step, body in (("declarations", {"sworn_statement": True, "legal_terms": True}), ("submit", None)):
        answer = api.call("POST", "requests", f"/dossiers/{dossier_id}/{step}", owner, json=body)
        assert answer.status_code in (200, 409), answer.text
    return dossier_id


def pay(api: SpreadApi, owner: User, dossier_id: str) -> None:
    key = str(uuid.uuid4())
    payment = api.pay(owner, dossier_id, idempotency_key=key)
    # 200: the first try authorised it but its answer was cut by a kill; the key replays it.
    replayed = payment.status_code == 200 and payment.headers.get("Idempotent-Replayed") == "true"
    assert payment.status_code == 201 or replayed, payment.text
    recorded = api.record(owner, payment.json()["payment_id"])
    assert recorded.status_code in (200, 409), recorded.text


def test_every_dossier_completes_once_while_replicas_are_killed(replicated: Stack) -> None:
    stack = replicated
    killer = Killer(stack)
    with SpreadApi(stack.config) as api:
        agent = api.login("agent.cert@example.fr")
        # The citizens sign up first (their identity is vouched for by the provider, one
        # process outside the test): what is under test is the procedure.
        with ThreadPoolExecutor(4) as pool:
            owners = list(pool.map(lambda _: api.new_citizen("Flotte", "ESSAI"), range(LOSS_CASES + THEFT_CASES)))
        killer.start()
        try:
            with ThreadPoolExecutor(6) as pool:
                cases = [pool.submit(loss_case, api, owners[n], n) for n in range(LOSS_CASES)]
                cases += [pool.submit(theft_case, api, agent, owners[LOSS_CASES + n], n) for n in range(THEFT_CASES)]
                dossiers = [case.result() for case in cases]
            for owner, dossier_id in dossiers:
                api.wait_status(owner, dossier_id, "completed", timeout=180)
        finally:
            killer.stop.set()
            killer.join(180)
        assert killer.error is None, repr(killer.error)
        assert len(killer.kills) >= 3 and killer.relay_holders_killed >= 1, killer.kills

        # Each payment and each certificate took effect once: one event of each per dossier
        # (a record may be delivered twice; its id then repeats, never a second fact).
        def facts(topic: str, kind: str) -> Counter[bytes]:
            ids = {(r.key, r.headers["ce_id"]) for r in read_topic(stack.config, topic) if r.ce_type.endswith(kind)}
            return Counter(key for key, _ in ids)

        paid = facts("ants.payment.v1", "PaymentRecorded.v1")
        issued = facts("ants.documents.v1", "CertificateIssued.v1")
        for owner, dossier_id in dossiers:
            key = dossier_id.encode()
            assert paid[key] == 1 and issued[key] == 1, (dossier_id, paid[key], issued[key])
            documents = api.call("GET", "documents", f"/dossiers/{dossier_id}/documents", owner).json()
            kinds = Counter(d["kind"] for d in documents)
            assert kinds["cpi"] == 1 and kinds["recapitulatif"] == 1, kinds

        assert api.server_errors == []

    # The relays changed hands: some service's relay was taken over by another replica.
    logs = [p for p in (stack.logs).glob("*.log") if p.name.split(".")[0] in SERVICES]
    leaders: dict[str, set[str]] = {}
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            if "relay.leading" in line:
                leaders.setdefault(path.name.split(".")[0], set()).add(path.name)
    assert any(len(names) > 1 for names in leaders.values()), leaders
    print(json.dumps({"kills": killer.kills, "resent": api.resent, "leaders": {k: sorted(v) for k, v in leaders.items()}}))


def test_sqlite_stays_single_replica(tmp_path: Path) -> None:
    config = StackConfig.ephemeral(tmp_path, None, replicas=2)
    with pytest.raises(RuntimeError, match="single-replica"):
        Stack(config).start()
