"""Notifications settings, read once from the environment."""

from functools import cache
from pathlib import Path
from typing import Literal

from ants_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8006
    # The mail server (SMTP). Unset: the mails are .eml files under DATA_DIR/notifications/mail.
    notifications_smtp_host: str | None = None
    notifications_smtp_port: int = 587
    notifications_smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    notifications_smtp_username: str | None = None
    notifications_smtp_password: str | None = None
    notifications_smtp_timeout_seconds: float = 10.0
    notifications_mail_from: str = "ne-pas-repondre@ants.example"
    # While the mail server fails, the queue is tried again after growing waits, at most this.
    notifications_retry_max_seconds: float = 15.0
    # This service's X25519 private key: it opens the addresses identity seals for it (the
    # identity service holds the public half, IDENTITY_CONTACT_PUBLIC_KEY_FILE).
    notifications_contact_key_file: Path = Path("var/keys/contact-private.pem")
    # The citizens' portal, for the link to the dossier in each mail.
    portal_public_url: str = "http://127.0.0.1:8000"

    @property
    def mail_dir(self) -> Path:
        return self.service_dir / "mail"


@cache
def get_settings() -> Settings:
    return Settings()
