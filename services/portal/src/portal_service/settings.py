"""Portal settings, read once from the environment."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # The services' public HTTP APIs: the portal is only their client. Several replicas of
    # a service: their URLs separated by commas; calls are spread over them.
    portal_identity_url: str = "http://127.0.0.1:8001"
    portal_requests_url: str = "http://127.0.0.1:8002"
    portal_cert_url: str = "http://127.0.0.1:8003"
    portal_payment_url: str = "http://127.0.0.1:8004"
    portal_documents_url: str = "http://127.0.0.1:8005"
    portal_service_timeout_seconds: float = 15.0

    # Signs and encrypts the session cookie. Without it, a random one is drawn at start:
    # sessions then end when the portal restarts, and replicas cannot share them.
    portal_session_secret: str | None = None
    # Set it behind HTTPS so that the cookies are never sent in clear.
    portal_cookie_secure: bool = False

    # Shown next to the upload field; the documents service enforces its own limit.
    portal_max_upload_bytes: int = 5 * 1024 * 1024
    # How long a form waits for another service to catch up with an event (seconds).
    portal_catch_up_seconds: float = 10.0

    # The embedded default's local mail server keeps each message as an .eml file here; when
    # set, the demo page /demo/courriels lists them. Never set in production.
    portal_mail_dir: Path | None = None

    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    def service_urls(self, service: str) -> list[str]:
        configured = str(getattr(self, f"portal_{service}_url"))
        return [url.strip().rstrip("/") for url in configured.split(",") if url.strip()]

    @property
    def session_key(self) -> bytes:
        """32 bytes for the cookie cipher, derived from the configured secret."""
        secret = self.portal_session_secret or _random_secret()
        return hashlib.sha256(secret.encode()).digest()


@cache
def _random_secret() -> str:
    return secrets.token_urlsafe(32)


@cache
def get_settings() -> Settings:
    return Settings()
