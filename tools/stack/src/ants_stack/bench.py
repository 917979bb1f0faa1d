"""`make bench`: push N loss-case dossiers through the running system and time every step.

Run `make run` first. Uses the seeded test fleet (vehicles ZZ-…, held by "Flotte ESSAI");
one account per dossier, created before the clock starts. Besides throughput and the
p50/p95/p99 of every step, it reports the CPU each process of the system spent per dossier
(read from /proc, so the figure holds on a loaded machine) and its resident memory. Waiting
for completion costs the system nothing between changes: the dossier is read with
`?wait_version=`, which answers at its next change.
"""

from __future__ import annotations

import argparse
import random
import asyncio
import os
import statistics
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ants_identity_provider.enrolment import enrol_and_sign_in_async, person
from ants_stack.stack import DEFAULT_PORTS, IDENTITY_PROVIDER, SERVICES

STEPS = ["start", "declare", "submit", "pay", "record", "completed", "total"]
CARD = {"card_number": "4970100006000000", "expiry": "12/30", "cvv": "123"}
PORTS = {name: port for name, port in DEFAULT_PORTS.items() if name in SERVICES or name == IDENTITY_PROVIDER}
BROKER_PORT = 9092
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Process:
    name: str
    pid: int

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


REPLICAS = 1  # processes of every service (ants-stack run --replicas N): set by --replicas


def ports_of(name: str) -> list[int]:
    """Every replica's port; the identity provider runs once."""
    return [PORTS[name] + 100 * k for k in range(REPLICAS if name in SERVICES else 1)]


def system_processes() -> list[Process]:
    """The broker and the services of the running system, found by their command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [w.decode(errors="replace") for w in command if w]
        if len(words) >= 2 and "tansu" in Path(words[0]).name and words[1] == "broker":
            if f"tcp://127.0.0.1:{BROKER_PORT}" in words:
                found.append(Process("broker", int(entry.name)))
        for name in SERVICES:
            for k, port in enumerate(ports_of(name)):
                if f"{name}_service" in words and _listens_on(entry, port):
                    found.append(Process(name if k == 0 else f"{name}.{k}", int(entry.name)))
    return sorted(found, key=lambda p: p.name)


def _listens_on(entry: Path, port: int) -> bool:
    """Whether this process is the system's (not a test's): its HTTP_PORT is the stack's."""
    try:
        return f"HTTP_PORT={port}".encode() in (entry / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


class Bench:
    def __init__(self, host: str, concurrency: int) -> None:
        self.host = host
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, int] = defaultdict(int)
        self.slots = asyncio.Semaphore(concurrency)

    def url(self, service: str, path: str) -> str:
        """Calls are spread over the replicas, as the portal does."""
        return f"http://{self.host}:{random.choice(ports_of(service))}{path}"

    async def login(self, client: httpx.AsyncClient) -> dict[str, str]:
        """A new holder of the test fleet, verified by the demo identity provider (only a
        verified identity may start a request for a vehicle)."""
        email = f"flotte.essai.{uuid.uuid4().hex[:12]}@example.fr"
        token = await enrol_and_sign_in_async(
            client, self.url("identity", ""), self.url(IDENTITY_PROVIDER, ""),
            person("Flotte", "ESSAI", email),
        )
        return {"Authorization": f"Bearer {token}"}

    async def timed(self, step: str, call: Any) -> httpx.Response:
        began = time.perf_counter()
        response: httpx.Response = await call
        self.timings[step].append(time.perf_counter() - began)
        response.raise_for_status()
        return response

    async def one(self, client: httpx.AsyncClient, auth: dict[str, str], plate: str) -> None:
        async with self.slots:
            began = time.perf_counter()
            try:
                await self._one(client, auth, plate)
            except httpx.HTTPStatusError as error:
                self.failures[f"{error.request.method} {error.request.url.path.split('/')[1]} -> {error.response.status_code}"] += 1
                return
            except Exception as error:  # noqa: BLE001 - counted and reported
                self.failures[type(error).__name__] += 1
                return
            self.timings["total"].append(time.perf_counter() - began)

    async def _one(self, client: httpx.AsyncClient, auth: dict[str, str], plate: str) -> None:
        body = {"reason": "perte", "person": "titulaire", "special_case": False, "plate": plate}
        started = await self.timed("start", client.post(self.url("requests", "/dossiers"), json=body, headers=auth))
        dossier_id = started.json()["dossier_id"]
        declarations = {"sworn_statement": True, "legal_terms": True}
        await self.timed("declare", client.post(self.url("requests", f"/dossiers/{dossier_id}/declarations"), json=declarations, headers=auth))
        await self.timed("submit", client.post(self.url("requests", f"/dossiers/{dossier_id}/submit"), headers=auth))
        # Paid right after the submission: the payment service waits for the news itself.
        paid = await self.timed("pay", client.post(self.url("payment", "/payments"), json={"dossier_id": dossier_id, **CARD}, headers=auth))
        payment_id = paid.json()["payment_id"]
        recorded_at = time.perf_counter()
        await self.timed("record", client.post(self.url("payment", f"/payments/{payment_id}/record"), headers=auth))
        dossier = (await client.get(self.url("requests", f"/dossiers/{dossier_id}"), headers=auth)).json()
        while dossier["status"] != "completed":  # each call answers at the dossier's next change
            if time.perf_counter() - recorded_at > 60:
                raise TimeoutError("completed")
            waited = await client.get(
                self.url("requests", f"/dossiers/{dossier_id}?wait_version={dossier['version']}&timeout=30"),
                headers=auth,
            )
            waited.raise_for_status()
            dossier = waited.json()
        self.timings["completed"].append(time.perf_counter() - recorded_at)

    def report(self, n: int, elapsed: float) -> str:
        done = len(self.timings["total"])
        lines = [
            f"dossiers: {done}/{n} completed in {elapsed:.1f} s  ->  {done / elapsed:.1f} dossiers/s",
            f"failures: {dict(self.failures) or 'none'}",
            f"{'step':<10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}",
        ]
        for step in STEPS:
            values = sorted(self.timings[step])
            if not values:
                continue
            q = statistics.quantiles(values, n=100) if len(values) > 1 else [values[0]] * 99
            lines.append(
                f"{step:<10}{q[49] * 1000:>10.1f}{q[94] * 1000:>10.1f}{q[98] * 1000:>10.1f}{values[-1] * 1000:>10.1f}"
            )
        return "\n".join(lines)


def cpu_report(processes: list[Process], before: dict[int, float], peak_rss: dict[int, float], done: int) -> str:
    lines = [f"{'process':<10}{'CPU ms/dossier':>16}{'peak RSS MB':>13}"]
    total = 0.0
    for process in processes:
        try:
            spent = process.cpu_seconds() - before[process.pid]
        except OSError:
            lines.append(f"{process.name:<10}{'(exited)':>16}")
            continue
        total += spent
        lines.append(f"{process.name:<10}{spent * 1000 / max(done, 1):>16.1f}{peak_rss[process.pid]:>13.0f}")
    lines.append(f"{'all':<10}{total * 1000 / max(done, 1):>16.1f}")
    return "\n".join(lines)


async def sample_rss(processes: list[Process], peak: dict[int, float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for process in processes:
            try:
                peak[process.pid] = max(peak[process.pid], process.rss_mb())
            except OSError:
                pass
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


async def run(n: int, concurrency: int, host: str) -> None:
    bench = Bench(host, concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        accounts = []
        for start in range(0, n, 8):  # one account per dossier, before the clock starts
            accounts += await asyncio.gather(*(bench.login(client) for _ in range(min(8, n - start))))
        plates = [f"ZZ-{number + 1:03d}-{block}" for block in ("AA", "AB", "AC", "AD", "AE") for number in range(999)]
        processes = system_processes() if host in ("127.0.0.1", "localhost") else []
        before = {p.pid: p.cpu_seconds() for p in processes}
        peak = {p.pid: p.rss_mb() for p in processes}
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(processes, peak, stop))
        load_before = os.getloadavg()
        began = time.perf_counter()
        await asyncio.gather(*(bench.one(client, auth, plate) for auth, plate in zip(accounts, plates[:n], strict=True)))
        elapsed = time.perf_counter() - began
        stop.set()
        await sampler
    print(f"load: {n} dossiers, {concurrency} at a time, one account each, against {host}")
    print(f"load average before / after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f}")
    print(bench.report(n, elapsed))
    if processes:
        print(cpu_report(processes, before, peak, len(bench.timings["total"])))


async def professional(held: int, samples: int, host: str) -> None:
    """One account holding `held` dossiers (started then given up, before the clock) against
    a new account: the requests service's CPU to start one more dossier and read the basket."""
    bench = Bench(host, 16)
    plates = [f"ZZ-{number + 1:03d}-{block}" for block in ("AA", "AB", "AC", "AD", "AE") for number in range(999)]
    requests = next(p for p in system_processes() if p.name == "requests")
    async with httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(max_connections=32)) as client:
        pro = await bench.login(client)

        async def start_and_give_up(plate: str, auth: dict[str, str]) -> None:
            async with bench.slots:
                body = {"reason": "perte", "person": "titulaire", "special_case": False, "plate": plate}
                started = await client.post(bench.url("requests", "/dossiers"), json=body, headers=auth)
                started.raise_for_status()
                dossier_id = started.json()["dossier_id"]
                (await client.post(bench.url("requests", f"/dossiers/{dossier_id}/cancel"), headers=auth)).raise_for_status()

        for start in range(0, held, 500):
            await asyncio.gather(*(start_and_give_up(plates[i % len(plates)], pro) for i in range(start, min(held, start + 500))))

        async def cost(auth: dict[str, str]) -> float:
            began = requests.cpu_seconds()
            for i in range(samples):
                await start_and_give_up(plates[(held + i) % len(plates)], auth)
                (await client.get(bench.url("requests", "/dossiers?all=true"), headers=auth)).raise_for_status()
            return (requests.cpu_seconds() - began) * 1000 / samples

        fresh = await cost(await bench.login(client))
        loaded = await cost(pro)
    print(f"requests CPU per (start + give up + read the basket): new account {fresh:.2f} ms, "
          f"account holding {held} dossiers {loaded:.2f} ms, ratio {loaded / fresh:.2f}; "
          f"load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--dossiers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--replicas", type=int, default=1,
                        help="processes of every service (ants-stack run --replicas N)")
    parser.add_argument("--professional", type=int, metavar="HELD", default=0,
                        help="compare an account holding HELD dossiers with a new one instead")
    args = parser.parse_args()
    global REPLICAS
    REPLICAS = args.replicas
    if args.professional:
        asyncio.run(professional(args.professional, 100, args.host))
    else:
        asyncio.run(run(args.dossiers, args.concurrency, args.host))


if __name__ == "__main__":
    main()
