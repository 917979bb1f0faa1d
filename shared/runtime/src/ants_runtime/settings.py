"""Settings common to every service, read from the environment (12-factor)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Environment variables shared by all services. Each service subclasses it."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    replica_id: str | None = None  # default: host name and process id

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_topic_partitions: int = 1
    kafka_fetch_max_wait_ms: int = 100

    data_dir: Path = Path("var")
    persistence_module: str = "eventsourcing.sqlite"

    auth_public_key_file: Path = Path("var/keys/token-public.pem")

    # The service's checkpoint signing key (created on first start when absent) and how
    # often the growth of its event log is signed.
    ledger_private_key_file: Path | None = None
    ledger_checkpoint_seconds: float = 2.0

    # The same key signs every record the service publishes (ce_signature); its consumers
    # believe a record only when the pinned public key of its producer verifies it: a folder
    # of `<service>.pem` files (default `<data_dir>/keys/producers`).
    trusted_producer_keys_dir: Path | None = None

    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    @property
    def service_dir(self) -> Path:
        return self.data_dir / self.service_name

    @property
    def signing_key_file(self) -> Path:
        return self.ledger_private_key_file or self.service_dir / "keys" / "ledger-private.pem"

    @property
    def producer_keys_dir(self) -> Path:
        return self.trusted_producer_keys_dir or self.data_dir / "keys" / "producers"

    def eventsourcing_env(self) -> dict[str, str]:
        """Defaults for the eventsourcing library; its own environment variables win."""
        self.service_dir.mkdir(parents=True, exist_ok=True)
        defaults = {
            "PERSISTENCE_MODULE": self.persistence_module,
            "SQLITE_DBNAME": str(self.service_dir / "events.sqlite"),
            "SQLITE_LOCK_TIMEOUT": "10",
            "SQLITE_SYNCHRONOUS": "NORMAL",  # see store.sync_commits
            "POSTGRES_DBNAME": f"ants_{self.service_name}",
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432",
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "",
            # Connections per process: the pool, its overflow, and two for coordination
            # (cluster.py). Kept small so that replicas fit in max_connections.
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
        }
        # Values passed in code would win over the environment: pass only what it lacks.
        return {key: value for key, value in defaults.items() if key not in os.environ}
