"""CERT settings, read once from the environment."""

from functools import cache

from ants_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "cert"
    http_port: int = 8003


@cache
def get_settings() -> Settings:
    return Settings()
