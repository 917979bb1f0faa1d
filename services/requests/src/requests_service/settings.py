"""Requests settings, read once from the environment."""

from functools import cache
from pathlib import Path

from ants_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "requests"
    http_port: int = 8002
    siv_dataset_file: Path | None = None
    fee_schedule_file: Path | None = None


@cache
def get_settings() -> Settings:
    return Settings()
