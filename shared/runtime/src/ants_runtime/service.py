"""Wiring shared by every service: broker, outbox relay, subscribers, HTTP app, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

import structlog
from aiokafka.errors import KafkaError
from ants_events import topics
from faststream.kafka import KafkaBroker
from litestar import Litestar, Request
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from ants_runtime.auth import Principal, TokenVerifier
from ants_runtime.changes import Changes
from ants_runtime.checkpoints import install_ledger
from ants_runtime.cluster import Message, changed_messages, coordinator_for
from ants_runtime.http import (
    FactNotYetKnown,
    bearer_principal,
    correlation_middleware,
    exception_handlers,
)
from ants_runtime.idempotency import IdempotentRequests, idempotency_middleware
from ants_runtime.inbound import InboundEvents
from ants_runtime.kafka import ensure_topics
from ants_runtime.logging import configure_logging
from ants_runtime.metrics import DeliveryCollector
from ants_runtime.observability import Observability, replica_id, run_server
from ants_runtime.outbox import OutboxRelay, ToContract
from ants_runtime.settings import ServiceSettings
from ants_runtime.store import ServiceApplication, stop_gracefully

log = structlog.get_logger(__name__)
T = TypeVar("T")


def faststream_security(settings: ServiceSettings) -> Any:
    from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    ssl_context = None
    if protocol.endswith("SSL"):
        import ssl

        ssl_context = ssl.create_default_context()
    if not protocol.startswith("SASL"):
        return BaseSecurity(ssl_context=ssl_context)
    sasl = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return sasl[settings.kafka_sasl_mechanism](
        username=settings.kafka_sasl_username or "",
        password=settings.kafka_sasl_password or "",
        ssl_context=ssl_context,
    )


UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
UNWATCHED_PATHS = ("/health", "/metrics", "/schema")


class ServiceRuntime:
    """One service process: its application, its topic, its subscribers and its HTTP API.

    Read-your-writes across services, without the client retrying:
    - a write answers once the events it stored are on the broker (`publish_wait_seconds`);
    - a command that needs a fact from another service (`wait_for_fact`) first looks at its
      state; if the fact is missing, it reads the end of every topic it follows and waits,
      woken by each change of the subject, until it has handled everything published before
      the call. Then the state is the truth (404/409 as usual); if that takes longer than
      `propagation_wait_seconds`, 503 with Retry-After.
    """

    publish_wait_seconds = 5.0
    read_publish_wait_seconds = 2.0
    propagation_wait_seconds = 10.0

    def __init__(
        self, settings: ServiceSettings, app: ServiceApplication, to_contract: ToContract
    ) -> None:
        self.settings = settings
        self.app = app
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            security=faststream_security(settings),
            logger=None,
        )
        self.coordinator = coordinator_for(app, settings.service_name, settings.replica_id)
        self.inbound = InboundEvents(app, settings, self.coordinator)
        self.relay = OutboxRelay(
            app, to_contract, settings, topics.BY_PRODUCER[settings.service_name],
            coordinator=self.coordinator,
        )
        self.changes = Changes()
        datastore = getattr(app.recorder, "datastore", None)
        self.idempotent = IdempotentRequests(datastore) if datastore is not None else None
        self.own_idempotency: set[str] = set()  # paths that treat Idempotency-Key themselves
        self.components: list[Any] = []
        app.on_recorded(lambda _last, changed: self.changes.changed(changed))
        if self.coordinator.replicated:
            app.on_recorded(self._tell_replicas)
            self.coordinator.subscribe(self._on_replica_message)
        self.observability = Observability(settings.service_name)
        self.observability.metrics.watch(DeliveryCollector(self.relay, self.inbound))
        app.on_stored_types(self.observability.metrics.count_stored)
        self._verifier: TokenVerifier | None = None
        self.ledger_routes = install_ledger(self, to_contract)

    def _tell_replicas(self, last: int, changed: set[Any]) -> None:
        for message in changed_messages(last, changed):
            self.coordinator.publish(message)

    def _on_replica_message(self, message: Message) -> None:
        """Another replica stored events, published some, or processed a partition."""
        if message.get("kind") == "changed":
            self.changes.changed(uuid.UUID(i) for i in message.get("ids", []))
            for component in self.components:
                wake = getattr(component, "wake", None)
                if wake is not None:
                    wake()
        self.relay.on_message(message)
        self.inbound.on_message(message)

    def also_run(self, component: Any) -> None:
        """Run a component (e.g. a read model's projector) while the service runs: it has an
        async context manager `running()` and a `problem` (None when well) that readiness
        reports."""
        self.components.append(component)

    @property
    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            self._verifier = TokenVerifier.from_file(self.settings.auth_public_key_file)
        return self._verifier

    def principal(self, request: Request[Any, Any, Any]) -> Principal:
        return bearer_principal(self.verifier, request)

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Litestar) -> AsyncIterator[None]:
        self.app.startup_done()  # every table exists by now (see ServiceApplication)
        await self.wait_for_broker()
        self.changes.bind(asyncio.get_running_loop())
        await self.coordinator.start()
        await self.relay.start()
        self.inbound.dead_letters = self.relay.producer
        await self.broker.start()
        tasks = [
            asyncio.create_task(self.relay.run(), name="outbox-relay"),
            asyncio.create_task(self.inbound.run(), name="inbound-events"),
        ]
        log.info("service.started", service=self.settings.service_name, port=self.settings.http_port)
        try:
            async with contextlib.AsyncExitStack() as components:
                for component in self.components:
                    await components.enter_async_context(component.running())
                yield
        finally:
            relay_task, inbound_task = tasks
            await stop_gracefully(relay_task, self.relay.stopping)
            await stop_gracefully(inbound_task, self.inbound.stopping)
            await self.broker.stop()
            await self.relay.stop()
            await self.coordinator.stop()
            self.app.close()
            log.info("service.stopped", service=self.settings.service_name)

    async def wait_for_broker(self, attempts: int = 30) -> None:
        """The broker may still be starting (or restarting): retry before giving up."""
        for attempt in range(1, attempts + 1):
            try:
                await ensure_topics(self.settings)
                return
            except KafkaError:
                if attempt == attempts:
                    raise
                log.warning("kafka.unreachable", bootstrap=self.settings.kafka_bootstrap_servers, attempt=attempt)
                await asyncio.sleep(1.0)

    async def store_reachable(self) -> bool:
        await self.app.call(self.app.max_notification_id)
        return True

    async def broker_reachable(self) -> bool:
        return bool(await self.broker.ping(timeout=2.0))

    async def delivery_working(self) -> bool | str:
        candidates = [
            self.coordinator.problem, self.relay.problem, self.inbound.problem,
            *(c.problem for c in self.components),
        ]
        problems = [p for p in candidates if p]
        return "; ".join(problems) if problems else True

    def delivery_details(self) -> dict[str, Any]:
        recoveries = sorted(
            [*self.relay.recoveries, *self.inbound.recoveries], key=lambda r: r["at"]
        )
        return {
            "delivery": {
                "published_through": self.relay.position,
                "stored_through": self.relay.recorded,
                "events_processed": self.inbound.processed,
                "recoveries": recoveries[-10:],
                "delayed": [d for c in self.components if (d := getattr(c, "delayed", None))],
            },
            "replica": {
                "id": self.coordinator.replica,
                "shares_store": self.coordinator.replicated,
                "runs_relay": self.relay.active,
                "partitions": [f"{tp.topic}[{tp.partition}]" for tp in self.inbound.partitions],
            },
        }

    # --- read-your-writes ------------------------------------------------------------------

    async def wait_for_fact(self, subject: Any, check: Callable[[], bool]) -> bool:
        """True as soon as `check()` holds; False once everything published before this call
        was handled and it still does not; FactNotYetKnown (503) when that takes too long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.propagation_wait_seconds
        with self.changes.waiter(subject) as changed:
            if await self.app.call(check):
                return True
            try:
                await self.inbound.load_remote_progress()
                ends = await asyncio.wait_for(
                    self.inbound.end_offsets(), self.propagation_wait_seconds
                )
            except Exception:  # noqa: BLE001 - the broker cannot tell: come back later
                log.warning("propagation.ends_unknown", exc_info=True)
                raise FactNotYetKnown() from None
            while not self.inbound.reached(ends):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise FactNotYetKnown()
                # Other replicas' progress comes by notification; their saved offsets cover
                # one missed.
                step = min(remaining, 1.0) if self.coordinator.replicated else remaining
                woken = asyncio.ensure_future(changed.next(step))
                progressed = asyncio.ensure_future(self.inbound.progressed(step))
                done, pending = await asyncio.wait(
                    {woken, progressed}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                if woken in done and woken.result() and await self.app.call(check):
                    return True
                if self.coordinator.replicated and not self.inbound.reached(ends):
                    await self.inbound.load_remote_progress()
            return await self.app.call(check)

    async def wait_for_change(
        self, subject: Any, load: Callable[[], T], until: Callable[[T], bool], timeout: float
    ) -> T:
        """Long poll: the aggregate as soon as `until` holds for it, or as it is at `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        with self.changes.waiter(subject) as changed:
            while True:
                found = await self.app.call(load)
                remaining = deadline - asyncio.get_running_loop().time()
                if until(found) or remaining <= 0:
                    return found
                await changed.next(remaining)

    def published_middleware(self, app: Any) -> Any:
        """An answer leaves once the events stored before it are on the broker: a client that
        turns to another service next finds the fact there (or waits for it, see
        wait_for_fact). Writes wait for their own events; reads too, for what they show may
        come from an event just handled (a dossier shown payable whose news is not yet
        published would be refused by the payment service)."""

        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["path"].startswith(UNWATCHED_PATHS):
                await app(scope, receive, send)
                return
            write = scope["method"] in UNSAFE_METHODS

            async def send_when_published(message: Any) -> None:
                if message["type"] == "http.response.start":
                    await self._published_before_answer(write)
                await send(message)

            await app(scope, receive, send_when_published)

        return middleware

    async def _published_before_answer(self, write: bool) -> None:
        relay = self.relay
        if not write and relay.problem:
            return  # the broker is away: a read answers what it knows without waiting
        target = relay.recorded
        if self.coordinator.replicated and target <= relay.position:
            # Another replica may have stored what this answer shows, and not told us yet: a
            # read, or a write refused because of it (a retry of a submission stored by a
            # replica killed before its events were published answers 409 only once they are).
            target = max(target, await self.app.call(self.app.max_notification_id))
        if target > relay.position:
            timeout = self.publish_wait_seconds if write else self.read_publish_wait_seconds
            await relay.wait_published(target, timeout)

    def http_app(
        self,
        route_handlers: Sequence[Any],
        *,
        title: str,
        description: str,
        domain_errors: Mapping[type[Exception], int],
        dependencies: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Litestar:
        operations = self.observability.routes(
            {
                "store": self.store_reachable,
                "broker": self.broker_reachable,
                "delivery": self.delivery_working,
            },
            self.delivery_details,
        )
        return Litestar(
            route_handlers=[*operations, *self.ledger_routes, *route_handlers],
            dependencies={
                "principal": Provide(self.principal, sync_to_thread=False),
                "runtime": Provide(lambda: self, sync_to_thread=False),
                **(dependencies or {}),
            },
            exception_handlers=exception_handlers(domain_errors),
            lifespan=[self.lifespan],
            openapi_config=OpenAPIConfig(title=title, version="1.0.0", description=description),
            logging_config=None,
            middleware=[
                *self.observability.middleware(), correlation_middleware,
                self.published_middleware,
                *([idempotency_middleware(self.idempotent, self.own_idempotency)]
                  if self.idempotent else []),
                *kwargs.pop("middleware", []),
            ],
            **kwargs,
        )


def serve(app: Litestar, settings: ServiceSettings) -> None:
    configure_logging(
        settings.log_format, settings.log_level, service=settings.service_name,
        replica=replica_id(),
    )
    run_server(app, settings.http_host, settings.http_port)
