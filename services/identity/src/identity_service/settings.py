"""Identity settings, read once from the environment."""

from functools import cache
from pathlib import Path

from ants_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "identity"
    http_port: int = 8001
    auth_private_key_file: Path = Path("var/keys/token-private.pem")
    token_ttl_seconds: int = 3600
    identity_seed_file: Path | None = None


@cache
def get_settings() -> Settings:
    return Settings()
