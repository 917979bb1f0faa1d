"""The demo provider's settings, read once from the environment (prefix IDP_)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDP_")

    host: str = "127.0.0.1"
    port: int = 8009
    issuer: str = ""  # the public URL; http://HOST:PORT by default
    # The one relying party: identity. Its secret is shared with IDENTITY_OIDC_CLIENT_SECRET.
    client_id: str = "ants-identity"
    client_secret: str = "demo-client-secret"
    redirect_uris: str = "http://127.0.0.1:8000/connexion/franceconnect/retour"
    # ES256 signing key (JWK), created on first start: DATA_DIR/identity-provider/signing-key.json
    key_file: Path | None = None
    data_dir: Path = Path("var")
    # POST /identities creates a verified person (tests, benchmarks). Off outside demos.
    enrolment: bool = True

    @property
    def issuer_url(self) -> str:
        return (self.issuer or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def signing_key_file(self) -> Path:
        return self.key_file or self.data_dir / "identity-provider" / "signing-key.json"


@cache
def get_settings() -> Settings:
    import os

    # DATA_DIR is the launcher's name for the state folder of every process.
    data_dir = os.environ.get("DATA_DIR")
    overrides: dict[str, Any] = (
        {"data_dir": Path(data_dir)} if data_dir and "IDP_DATA_DIR" not in os.environ else {}
    )
    return Settings(**overrides)
