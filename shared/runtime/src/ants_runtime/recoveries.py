"""What a delivery loop recovered from (a broker that forgot a topic), for readiness to show."""

from __future__ import annotations

from datetime import UTC, datetime


class Recoveries(list[dict[str, str]]):
    """The most recent recoveries, each with its time and reason."""

    kept = 10

    def note(self, reason: str) -> None:
        self.append({"at": datetime.now(UTC).isoformat(), "reason": reason})
        del self[: -self.kept]
