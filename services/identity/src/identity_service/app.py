"""Wiring of the identity service."""

from __future__ import annotations

import json

from litestar import Litestar
from litestar.di import Provide

from ants_runtime.auth import TokenIssuer, ensure_keypair
from ants_runtime.sealed import Sealer
from ants_runtime.service import ServiceRuntime, serve
from identity_service.adapters.mail import AccountMails, MailDrop, Outbox, SmtpRelay
from identity_service.application import IdentityApplication
from identity_service.domain.model import (
    IdentityAlreadyLinked,
    InvalidAccount,
    SignInRefused,
    WrongCredentials,
)
from identity_service.domain.passwords import Passwords
from identity_service.http.clients import TrustedProxies
from identity_service.http.controllers import AccountsController, IdentityProviderController
from identity_service.integration.outbound import contracts_sealing_for
from identity_service.settings import Settings, get_settings
from identity_service.storage import make_store_private

DOMAIN_ERRORS = {
    InvalidAccount: 422, WrongCredentials: 401, SignInRefused: 401, IdentityAlreadyLinked: 409,
}


def outbox_of(settings: Settings) -> Outbox:
    if settings.identity_smtp_host:
        return SmtpRelay(
            settings.identity_smtp_host, settings.identity_smtp_port,
            starttls=settings.identity_smtp_starttls, username=settings.identity_smtp_username,
            password=settings.identity_smtp_password,
        )
    return MailDrop(settings.mail_dir)


def build_application(settings: Settings) -> IdentityApplication:
    env = settings.eventsourcing_env()
    make_store_private(env, IdentityApplication.name, settings.service_dir)
    account_policy, address_policy = settings.login_policies()
    return IdentityApplication(
        env=env,
        passwords=Passwords(settings.identity_password_hash_concurrency),
        mails=AccountMails(outbox_of(settings), settings.identity_mail_from),
        account_policy=account_policy,
        address_policy=address_policy,
        registration_policy=settings.registration_policy(),
    )


def contact_sealer(settings: Settings) -> Sealer | None:
    """Seals account addresses for the notifications service; its secret part derives from
    the token signing key (HKDF under its own label), which identity alone holds."""
    if settings.identity_contact_public_key_file is None:
        return None
    return Sealer.from_file(
        settings.identity_contact_public_key_file, settings.auth_private_key_file.read_bytes()
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    identity = build_application(settings)
    ensure_keypair(settings.auth_private_key_file, settings.auth_public_key_file)
    issuer = TokenIssuer(settings.auth_private_key_file.read_bytes(), settings.token_ttl_seconds)
    proxies = TrustedProxies(settings.forwarded_allow_ips)
    runtime = ServiceRuntime(settings, identity, contracts_sealing_for(contact_sealer(settings)))
    provider = settings.identity_provider()
    if settings.identity_seed_file:  # after the runtime: the ledger covers their public form
        identity.seed(
            json.loads(settings.identity_seed_file.read_text()),
            provider.issuer if provider else None,
        )
    return runtime.http_app(
        [AccountsController, IdentityProviderController],
        title="Identity",
        description="Accounts, login and roles. Tokens are verified by the other services "
        "with the public key alone.",
        domain_errors=DOMAIN_ERRORS,
        dependencies={
            "identity": Provide(lambda: identity, sync_to_thread=False),
            "issuer": Provide(lambda: issuer, sync_to_thread=False),
            "client_address": Provide(proxies.client_address, sync_to_thread=False),
            "provider": Provide(lambda: provider, sync_to_thread=False),
        },
    )


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings)
