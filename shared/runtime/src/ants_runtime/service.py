"""Wiring shared by every service: broker, outbox relay, subscribers, HTTP app, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import structlog
from aiokafka.errors import KafkaError
import uvicorn
from faststream.kafka import KafkaBroker
from litestar import Litestar, Request
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from ants_events import topics
from ants_runtime.auth import Principal, TokenVerifier
from ants_runtime.http import (
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
from ants_runtime.store import ServiceApplication

log = structlog.get_logger(__name__)


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


class ServiceRuntime:
    """One service process: its application, its topic, its subscribers and its HTTP API."""

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
        self.inbound = InboundEvents(app, self.broker, settings.kafka_topic_partitions)
        self.relay = OutboxRelay(
            app, to_contract, settings, topics.BY_PRODUCER[settings.service_name]
        )
        self._verifier: TokenVerifier | None = None

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
        self.inbound.subscribe()
        await self.relay.start()
        self.inbound.dead_letters = self.relay.producer
        await self.broker.start()
        relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
        log.info("service.started", service=self.settings.service_name, port=self.settings.http_port)
        try:
            yield
        finally:
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task
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
        health = health_route({"store": self.store_reachable, "broker": self.broker_reachable})
        return Litestar(
            route_handlers=[health, *route_handlers],
            dependencies={
                "principal": Provide(self.principal, sync_to_thread=False),
                **(dependencies or {}),
            },
            exception_handlers=exception_handlers(domain_errors),
            lifespan=[self.lifespan],
            openapi_config=OpenAPIConfig(title=title, version="1.0.0", description=description),
            logging_config=None,
            middleware=[correlation_middleware, *kwargs.pop("middleware", [])],
            **kwargs,
        )


def serve(app: Litestar, settings: ServiceSettings) -> None:
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_level="warning",
        access_log=False, timeout_graceful_shutdown=5,
    )
