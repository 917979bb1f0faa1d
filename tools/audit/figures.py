"""Small measurements for the audit design note (not a benchmark suite): cost per stored
event of the ledger, checkpoint signing rate, verification of a 50-event bundle and of a
100,000-event log. `python tools/audit/figures.py` (about half a minute on 2 cores)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ants_audit.verify import verify_bundle  # noqa: E402
from ants_events.ledger import Checkpoint, Frontier, checkpoint_valid, leaf_data, leaf_hash  # noqa: E402
from ants_runtime.checkpoints import LedgerSigner  # noqa: E402
from ants_runtime.ledger import LedgerTables  # noqa: E402
from ants_runtime.store import ServiceApplication  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from tools.audit.tests.bundles import sample_bundle  # noqa: E402


class Counter(Aggregate):
    @event("Counted")
    def count(self) -> None:
        pass


class Plain(ServiceApplication):
    name = "figures"

    def construct_recorder(self):  # type: ignore[no-untyped-def]
        return self.factory.process_recorder()  # without the ledger, for comparison


def per_event_cost(directory: Path, app_class: type[ServiceApplication], events: int = 3000) -> float:
    app = app_class({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                     "SQLITE_DBNAME": str(directory / f"{app_class.__name__}.sqlite")})
    counters = [Counter() for _ in range(events)]
    began = time.process_time()
    for counter in counters:
        app.save(counter)
    spent = time.process_time() - began
    app.close()
    return spent / events * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)

        class WithLedger(ServiceApplication):
            name = "figures"

        plain, ledgered = per_event_cost(directory, Plain), per_event_cost(directory, WithLedger)
        print(f"store one event (SQLite, CPU): {plain:.0f} µs without the ledger, {ledgered:.0f} µs "
              f"with it: {ledgered - plain:.0f} µs per event")

        frontier = Frontier()
        began = time.perf_counter()
        for n in range(100_000):
            frontier.append(leaf_hash(leaf_data(n + 1, "ab" * 32, "cd" * 32)))
        hashing = (time.perf_counter() - began) / 100_000 * 1e6
        print(f"leaf hash and tree append alone: {hashing:.1f} µs per event")

        signer = LedgerSigner(directory / "keys" / "ledger-private.pem")
        began = time.perf_counter()
        signed = [signer.sign("figures", n, "00" * 32) for n in range(1, 2001)]
        rate = len(signed) / (time.perf_counter() - began)
        print(f"checkpoint signing: {rate:,.0f} checkpoints/s (one every 2 s is needed)")

        bundle = sample_bundle(directory, events=50)
        began = time.perf_counter()
        assert verify_bundle(bundle) == []
        print(f"verify a 50-event bundle: {(time.perf_counter() - began) * 1000:.1f} ms")

        leaves = [leaf_hash(leaf_data(n + 1, "ab" * 32, "cd" * 32)) for n in range(100_000)]
        checkpoint = signer.sign("figures", len(leaves), _root(leaves))
        began = time.perf_counter()
        assert checkpoint_valid(Checkpoint(**checkpoint.as_dict()), signer.public_key)
        assert _root(leaves) == checkpoint.root_hash
        print(f"verify a 100,000-event log against its checkpoint (leaves given): "
              f"{time.perf_counter() - began:.2f} s")

        app = WithLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": str(directory / "big.sqlite")})
        for _ in range(100):
            app.save(*[Counter() for _ in range(1000)])
        ledger: LedgerTables = app.ledger  # type: ignore[assignment]
        root = ledger.root_at(ledger.size())
        assert root is not None  # 100,000 events were just stored
        kept = signer.sign("figures", ledger.size(), root)
        from ants_runtime.ledger import verify_store

        began = time.perf_counter()
        problems = verify_store(app.recorder, ledger, [kept], signer.public_key)
        print(f"verify a 100,000-event store (SQLite rows read, digests and tree recomputed): "
              f"{time.perf_counter() - began:.2f} s, problems: {len(problems)}")
        app.close()


def _root(leaves: list[bytes]) -> str:
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root().hex()


if __name__ == "__main__":
    main()
