"""Payment settings, read once from the environment."""

from functools import cache
from pathlib import Path
from typing import Literal

from ants_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "payment"
    http_port: int = 8004
    # FEE_SCHEDULE_FILE: another dated fee schedule (JSON); default: the shared one.
    fee_schedule_file: Path | None = None
    # PAYMENT_PROVIDER: which PSP adapter authorises cards; only the simulated one exists.
    payment_provider: Literal["simulated"] = "simulated"


@cache
def get_settings() -> Settings:
    return Settings()
