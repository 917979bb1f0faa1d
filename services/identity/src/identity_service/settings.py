"""Identity settings, read once from the environment."""

from datetime import timedelta
from functools import cache
from pathlib import Path

from ants_runtime.settings import ServiceSettings
from identity_service.adapters.openid import OpenIDProvider
from identity_service.domain.throttle import (
    ACCOUNT_POLICY,
    ADDRESS_POLICY,
    REGISTRATION_POLICY,
    ThrottlePolicy,
)


class Settings(ServiceSettings):
    service_name: str = "identity"
    http_port: int = 8001
    auth_private_key_file: Path = Path("var/keys/token-private.pem")
    token_ttl_seconds: int = 3600
    identity_seed_file: Path | None = None
    # Failed logins: after FREE failures within the window each attempt waits longer; after
    # LIMIT none is taken until the oldest leaves the window. Per e-mail address, and per
    # client address (more room: an address may be shared).
    identity_login_limit: int = ACCOUNT_POLICY.limit
    identity_login_free: int = ACCOUNT_POLICY.free
    identity_login_address_limit: int = ADDRESS_POLICY.limit
    identity_login_address_free: int = ADDRESS_POLICY.free
    identity_login_window_seconds: int = int(ACCOUNT_POLICY.window.total_seconds())
    # Registrations per client address within the window: slowed after FREE, refused at LIMIT.
    identity_registration_limit: int = REGISTRATION_POLICY.limit
    identity_registration_free: int = REGISTRATION_POLICY.free
    identity_registration_window_seconds: int = int(REGISTRATION_POLICY.window.total_seconds())
    # Scrypt holds 16 MiB per password being hashed: how many may run at once.
    identity_password_hash_concurrency: int = 2
    # Where account mails go: a mail server, or else .eml files under DATA_DIR/identity/mail.
    identity_smtp_host: str | None = None
    identity_smtp_port: int = 587
    identity_smtp_starttls: bool = True
    identity_smtp_username: str | None = None
    identity_smtp_password: str | None = None
    identity_mail_from: str = "ne-pas-repondre@ants.example"
    # The notifications service's public key (X25519 PEM): AccountRegistered carries the
    # address sealed for that service alone. Unset: no address leaves identity.
    identity_contact_public_key_file: Path | None = None
    # FORWARDED_ALLOW_IPS, also read by uvicorn: the proxies whose X-Forwarded-For names the
    # client. Logins are counted per client address; a proxy that names nobody is not counted.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # Signing in through an OpenID Connect provider run as FranceConnect (its issuer URL;
    # none: only passwords). The redirect URI is the portal's return page, registered with
    # the provider with this client.
    identity_oidc_issuer: str | None = None
    identity_oidc_client_id: str = "ants-identity"
    identity_oidc_client_secret: str = "demo-client-secret"
    identity_oidc_redirect_uri: str = "http://127.0.0.1:8000/connexion/franceconnect/retour"
    identity_oidc_scope: str = "openid given_name family_name birthdate birthplace birthcountry email"
    identity_oidc_acr_values: str = "eidas1"

    def login_policies(self) -> tuple[ThrottlePolicy, ThrottlePolicy]:
        """Per account, per client address."""
        window = timedelta(seconds=self.identity_login_window_seconds)
        return (
            ThrottlePolicy(self.identity_login_limit, self.identity_login_free, window),
            ThrottlePolicy(self.identity_login_address_limit, self.identity_login_address_free, window),
        )

    def identity_provider(self) -> OpenIDProvider | None:
        if not self.identity_oidc_issuer:
            return None
        return OpenIDProvider(
            self.identity_oidc_issuer, self.identity_oidc_client_id,
            self.identity_oidc_client_secret, self.identity_oidc_redirect_uri,
            self.identity_oidc_scope, tuple(self.identity_oidc_acr_values.split()),
        )

    def registration_policy(self) -> ThrottlePolicy:
        return ThrottlePolicy(
            self.identity_registration_limit, self.identity_registration_free,
            timedelta(seconds=self.identity_registration_window_seconds),
        )

    @property
    def mail_dir(self) -> Path:
        return self.service_dir / "mail"


@cache
def get_settings() -> Settings:
    return Settings()
