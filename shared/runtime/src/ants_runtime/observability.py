"""What operators see of a process, the same in every service: its identity (service and
replica), liveness and readiness, metrics, traces, and a shutdown that drains.

- `GET /health/live`: 200 while the event loop answers (restart the container otherwise);
- `GET /health/ready` (and the older `GET /health`): 200 when the checks pass (store, broker,
  delivery for a backend service), 503 with the reasons otherwise, and 503 from the moment
  the process was asked to stop;
- `GET /metrics`: Prometheus text format (see `metrics.py`);
- traces: see `tracing.py`.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

import structlog
import uvicorn
from litestar import get
from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.plugins.opentelemetry import OpenTelemetryConfig
from opentelemetry import trace

from ants_runtime.http import HealthCheck, health_route
from ants_runtime.metrics import ServiceMetrics
from ants_runtime.tracing import configure_tracing

log = structlog.get_logger(__name__)

_stopping = threading.Event()


def replica_id() -> str:
    """`REPLICA_ID`, else host name and process id (a pod's name is its host name)."""
    return os.environ.get("REPLICA_ID") or f"{socket.gethostname()}-{os.getpid()}"


def stopping() -> bool:
    """The process was asked to stop (SIGTERM or SIGINT): it is no longer ready."""
    return _stopping.is_set()


class Observability:
    """The routes, middleware and metrics registry of one service process."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.replica = replica_id()
        self.metrics = ServiceMetrics(service, self.replica)
        configure_tracing(service, self.replica)

    def routes(
        self,
        checks: Mapping[str, HealthCheck],
        details: Callable[[], Mapping[str, Any]] | None = None,
        **opt: Any,
    ) -> list[Any]:
        @get("/health/live", tags=["operations"], summary="The process answers", **opt)
        async def live() -> dict[str, str]:
            return {"status": "ok"}

        ready = health_route(checks, details, stopping, "/health/ready", **opt)
        legacy = health_route(checks, details, stopping, "/health", **opt)
        return [live, ready, legacy, self.metrics.route(**opt)]

    def middleware(self) -> list[Any]:
        """Outermost first: the trace (its span is current for everything inside), then the
        request figures."""
        return [_tracing_middleware(), _span_named_by_route, self.metrics.middleware]


def _tracing_middleware() -> DefineMiddleware:
    """Litestar runs this one around its router (unrouted requests are traced too), before
    the route is known: `_span_named_by_route` names the span once it is."""
    config = OpenTelemetryConfig(
        exclude=["^/health", "^/metrics"],
        exclude_spans=["receive", "send"],
        scopes={ScopeType.HTTP},
    )
    return config.middleware


def _span_named_by_route(app: Any) -> Any:
    """The server span named by the route template (`POST /payments/{payment_id}/record`),
    never by the raw path: a name per dossier would defeat every trace backend's grouping."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        route = scope.get("path_template")
        if route and scope["type"] == "http":
            span = trace.get_current_span()
            span.update_name(f"{scope['method']} {route}")
            span.set_attribute("http.route", route)
        await app(scope, receive, send)

    return middleware


# --- serving with a drain -------------------------------------------------------------


class DrainingServer(uvicorn.Server):
    """uvicorn, which on SIGTERM stops accepting connections, lets the requests in flight
    finish (`timeout_graceful_shutdown`) and then runs the lifespan's shutdown; readiness
    answers 503 from the signal on."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not _stopping.is_set():
            log.info("service.stopping", signal=signal.Signals(sig).name)
        _stopping.set()
        super().handle_exit(sig, frame)


def run_server(app: Any, host: str, port: int, graceful_seconds: float = 5.0) -> None:
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False,
        timeout_graceful_shutdown=int(graceful_seconds),
    )
    server = DrainingServer(config)
    server.run()
    if not server.started:
        sys.exit(3)  # what uvicorn.run does when the application did not start
