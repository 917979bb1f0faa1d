"""Requests settings, read once from the environment."""

from functools import cache
from pathlib import Path

from ants_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "requests"
    http_port: int = 8002
    siv_dataset_file: Path | None = None
    fee_schedule_file: Path | None = None
    # Base of the verification address printed in the CSA's QR code.
    requests_public_base_url: str = "http://127.0.0.1:8002"
    # Dates printed on the CSA are those of this time zone.
    time_zone: str = "Europe/Paris"


@cache
def get_settings() -> Settings:
    return Settings()
