"""`make bench`: push N loss-case dossiers through the running system and time every step.

Run `make run` first (or point --base at another host's ports). Uses the seeded test fleet
(vehicles ZZ-…, held by "Flotte ESSAI"); a vehicle whose request is still open is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx

STEPS = ["start", "declare", "submit", "pay", "record", "completed", "total"]
CARD = {"card_number": "4970100006000000", "expiry": "12/30", "cvv": "123"}


class Bench:
    def __init__(self, host: str, concurrency: int) -> None:
        self.host = host
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, int] = defaultdict(int)
        self.slots = asyncio.Semaphore(concurrency)

    def url(self, port: int, path: str) -> str:
        return f"http://{self.host}:{port}{path}"

    async def login(self, client: httpx.AsyncClient) -> dict[str, str]:
        email = f"flotte.essai.{uuid.uuid4().hex[:8]}@example.fr"
        account = {"email": email, "password": "bench-2026", "given_name": "Flotte", "family_name": "ESSAI"}
        (await client.post(self.url(8001, "/accounts"), json=account)).raise_for_status()
        session = await client.post(self.url(8001, "/sessions"), json={"email": email, "password": "bench-2026"})
        session.raise_for_status()
        return {"Authorization": f"Bearer {session.json()['access_token']}"}

    async def timed(self, step: str, call: Any) -> Any:
        began = time.perf_counter()
        result = await call
        self.timings[step].append(time.perf_counter() - began)
        return result

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
        started = await self.timed("start", client.post(self.url(8002, "/dossiers"), json=body, headers=auth))
        started.raise_for_status()
        dossier_id = started.json()["dossier_id"]
        declarations = {"sworn_statement": True, "legal_terms": True}
        (await self.timed("declare", client.post(self.url(8002, f"/dossiers/{dossier_id}/declarations"), json=declarations, headers=auth))).raise_for_status()
        (await self.timed("submit", client.post(self.url(8002, f"/dossiers/{dossier_id}/submit"), headers=auth))).raise_for_status()
        # Paid right after the submission: the payment service waits for the news itself.
        paid = await self.timed("pay", client.post(self.url(8004, "/payments"), json={"dossier_id": dossier_id, **CARD}, headers=auth))
        paid.raise_for_status()
        payment_id = paid.json()["payment_id"]
        recorded_at = time.perf_counter()
        (await self.timed("record", client.post(self.url(8004, f"/payments/{payment_id}/record"), headers=auth))).raise_for_status()
        dossier = (await client.get(self.url(8002, f"/dossiers/{dossier_id}"), headers=auth)).json()
        while dossier["status"] != "completed":  # each call answers at the dossier's next change
            if time.perf_counter() - recorded_at > 60:
                raise TimeoutError("completed")
            waited = await client.get(
                self.url(8002, f"/dossiers/{dossier_id}?wait_version={dossier['version']}&timeout=30"),
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


async def run(n: int, concurrency: int, host: str) -> None:
    bench = Bench(host, concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        auth = await bench.login(client)
        plates = [f"ZZ-{number + 1:03d}-{block}" for block in ("AA", "AB", "AC", "AD", "AE") for number in range(999)]
        began = time.perf_counter()
        await asyncio.gather(*(bench.one(client, auth, plate) for plate in plates[:n]))
        elapsed = time.perf_counter() - began
    print(f"load: {n} dossiers, {concurrency} at a time, against {host}")
    print(bench.report(n, elapsed))


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--dossiers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    asyncio.run(run(args.dossiers, args.concurrency, args.host))


if __name__ == "__main__":
    main()
