"""The national printing office (Imprimerie nationale in reality): makes the definitive
certificate, the duplicate, and sends it to the holder by registered post.

Modelled as an adapter: an order is handed over (again and again until it went out: the
same order number is the same order), and the office answers with the registered letter's
tracking number once it is posted. Orders are made side by side, as a printing works does:
the simulated office posts each one a few seconds after it first received it, however many
came before.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PrintOrder:
    order_number: str
    plate: str
    holder: dict[str, Any]
    mention: str  # "DUPLICATA", printed on the certificate with its date
    duplicate_date: str


@dataclass(frozen=True)
class Dispatch:
    tracking_number: str


class PrintingOffice(Protocol):
    async def produce(self, order: PrintOrder) -> Dispatch | None:
        """Hand the order over (the same order number is the same order); its dispatch once
        the certificate was posted, None while it is being made."""


class SimulatedPrintingOffice:
    def __init__(self, seconds: float = 3.0) -> None:
        self.seconds = seconds
        self.received: dict[str, float] = {}  # order number -> when first received
        self.printed: list[PrintOrder] = []

    async def produce(self, order: PrintOrder) -> Dispatch | None:
        received = self.received.setdefault(order.order_number, time.monotonic())
        if time.monotonic() - received < self.seconds:
            return None
        if order not in self.printed:
            self.printed.append(order)
        digits = int(hashlib.sha256(order.order_number.encode()).hexdigest(), 16) % 10**11
        return Dispatch(tracking_number=f"1A{digits:011d}")
