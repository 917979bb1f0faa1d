"""structlog configuration: readable in a terminal, JSON in production.

Every line names the process (`service`, `replica`) and, inside a traced request or a
handled event, its `trace_id`; the HTTP middleware and the consumer bind the correlation id
and the dossier id. Log keys, never personal data: no names, e-mail addresses or card numbers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace


def add_trace_id(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict.setdefault("trace_id", format(span_context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(span_context.span_id, "016x"))
    return event_dict


def configure_logging(
    fmt: str = "console", level: str = "INFO", *, service: str | None = None,
    replica: str | None = None,
) -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    identity = {k: v for k, v in {"service": service, "replica": replica}.items() if v}

    def add_identity(
        _: Any, __: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in identity.items():
            event_dict.setdefault(key, value)
        return event_dict

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_identity,
            add_trace_id,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for noisy in ("aiokafka", "faststream", "faststream.access.kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
