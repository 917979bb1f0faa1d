"""The national printing office (Imprimerie nationale in reality): makes the definitive
certificate, the duplicate, and sends it to the holder by registered post.

Modelled as an adapter; the simulated office takes a few seconds per certificate and
answers with the registered letter's tracking number.
"""

from __future__ import annotations

import asyncio
import hashlib
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
    async def produce(self, order: PrintOrder) -> Dispatch:
        """Make and post the certificate; the same order number gives the same letter."""


class SimulatedPrintingOffice:
    def __init__(self, seconds: float = 3.0) -> None:
        self.seconds = seconds
        self.printed: list[PrintOrder] = []

    async def produce(self, order: PrintOrder) -> Dispatch:
        await asyncio.sleep(self.seconds)
        self.printed.append(order)
        digits = int(hashlib.sha256(order.order_number.encode()).hexdigest(), 16) % 10**11
        return Dispatch(tracking_number=f"1A{digits:011d}")
