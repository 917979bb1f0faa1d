"""Wiring shared by every service: broker, outbox relay, subscribers, HTTP app, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

import structlog
from aiokafka.errors import KafkaError
import uvicorn
from faststream.kafka import KafkaBroker
from litestar import Litestar, Request
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from ants_events import topics
from ants_runtime.auth import Principal, TokenVerifier
from ants_runtime.changes import Changes
from ants_runtime.checkpoints import install_ledger
from ants_runtime.http import (
    FactNotYetKnown,
    bearer_principal,
    correlation_middleware,
    exception_handlers,
    health_route,
)
from ants_runtime.inbound import InboundEvents
from ants_runtime.kafka import ensure_topics
from ants_runtime.logging import configure_logging
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
        self.inbound = InboundEvents(app, settings)
        self.relay = OutboxRelay(
            app, to_contract, settings, topics.BY_PRODUCER[settings.service_name]
        )
        self.changes = Changes()
        self.components: list[Any] = []
        app.on_recorded(lambda _last, changed: self.changes.changed(changed))
        self._verifier: TokenVerifier | None = None
        self.ledger_routes = install_ledger(self, to_contract)

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
        await self.wait_for_broker()
        self.changes.bind(asyncio.get_running_loop())
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
            for loop, task in zip((self.relay, self.inbound), tasks, strict=True):
                await stop_gracefully(task, loop.stopping)
            await self.broker.stop()
            await self.relay.stop()
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
        await asyncio.to_thread(self.app.max_notification_id)
        return True

    async def broker_reachable(self) -> bool:
        return bool(await self.broker.ping(timeout=2.0))

    async def delivery_working(self) -> bool | str:
        candidates = [self.relay.problem, self.inbound.problem, *(c.problem for c in self.components)]
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
            }
        }

    # --- read-your-writes ------------------------------------------------------------------

    async def wait_for_fact(self, subject: Any, check: Callable[[], bool]) -> bool:
        """True as soon as `check()` holds; False once everything published before this call
        was handled and it still does not; FactNotYetKnown (503) when that takes too long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.propagation_wait_seconds
        with self.changes.waiter(subject) as changed:
            if await asyncio.to_thread(check):
                return True
            try:
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
                woken = asyncio.ensure_future(changed.next(remaining))
                progressed = asyncio.ensure_future(self.inbound.progressed(remaining))
                done, pending = await asyncio.wait(
                    {woken, progressed}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                if woken in done and woken.result() and await asyncio.to_thread(check):
                    return True
            return await asyncio.to_thread(check)

    async def wait_for_change(
        self, subject: Any, load: Callable[[], T], until: Callable[[T], bool], timeout: float
    ) -> T:
        """Long poll: the aggregate as soon as `until` holds for it, or as it is at `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        with self.changes.waiter(subject) as changed:
            while True:
                found = await asyncio.to_thread(load)
                remaining = deadline - asyncio.get_running_loop().time()
                if until(found) or remaining <= 0:
                    return found
                await changed.next(remaining)

    def published_middleware(self, app: Any) -> Any:
        """A write answers once the events it stored are on the broker: a client that turns
        to another service next finds the fact there (or waits for it, see wait_for_fact)."""

        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
                await app(scope, receive, send)
                return

            async def send_when_published(message: Any) -> None:
                if message["type"] == "http.response.start":
                    await self.relay.wait_published(
                        self.relay.recorded, self.publish_wait_seconds
                    )
                await send(message)

            await app(scope, receive, send_when_published)

        return middleware

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
        health = health_route(
            {
                "store": self.store_reachable,
                "broker": self.broker_reachable,
                "delivery": self.delivery_working,
            },
            self.delivery_details,
        )
        return Litestar(
            route_handlers=[health, *self.ledger_routes, *route_handlers],
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
                correlation_middleware, self.published_middleware,
                *kwargs.pop("middleware", []),
            ],
            **kwargs,
        )


def serve(app: Litestar, settings: ServiceSettings) -> None:
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_level="warning",
        access_log=False, timeout_graceful_shutdown=5,
    )
