"""Every stored event names its class by an explicit topic that resolves in a process that
has only imported the service: a replica (or a restart) reads events another process stored
before it ever made one of that kind itself."""

from __future__ import annotations

import subprocess
import sys

SERVICES = ["identity", "requests", "cert", "payment", "documents", "notifications"]

CHECK = """
import importlib, pkgutil, sys
from eventsourcing.domain import Aggregate
from eventsourcing.utils import resolve_topic

for service in sys.argv[1:]:
    package = importlib.import_module(f"{service}_service")
    for module in pkgutil.walk_packages(package.__path__, f"{service}_service."):
        if ".domain" in module.name:
            importlib.import_module(module.name)

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

unresolved = []
for aggregate in subclasses(Aggregate):
    if not aggregate.__module__.split(".")[0].endswith("_service"):
        continue
    for name, value in vars(aggregate).items():
        if isinstance(value, type) and hasattr(value, "mutate"):
            topic = getattr(value, "TOPIC", None) or f"{value.__module__}:{value.__qualname__}"
            try:
                resolve_topic(topic)
            except Exception:
                unresolved.append(f"{aggregate.__qualname__}.{name} ({topic})")
print("\\n".join(unresolved))
sys.exit(1 if unresolved else 0)
"""


def test_every_event_topic_resolves_in_a_process_that_only_imported_the_service() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, *SERVICES], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
