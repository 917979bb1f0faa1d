"""Wiring of the notifications service."""

from __future__ import annotations


from litestar import Litestar

from ants_runtime.mail import AsyncOutbox, AsyncSmtpRelay, MailDrop
from ants_runtime.sealed import Opener
from ants_runtime.service import ServiceRuntime, serve
from ants_runtime.worklist import WorkList
from notifications_service.application import NotificationsApplication
from notifications_service.domain.model import Mail
from notifications_service.integration import inbound
from notifications_service.settings import Settings, get_settings


def outbox_of(settings: Settings) -> AsyncOutbox:
    if settings.notifications_smtp_host:
        return AsyncSmtpRelay(
            settings.notifications_smtp_host, settings.notifications_smtp_port,
            security=settings.notifications_smtp_security,
            username=settings.notifications_smtp_username,
            password=settings.notifications_smtp_password,
            timeout=settings.notifications_smtp_timeout_seconds,
        )
    return MailDrop(settings.mail_dir)


def opener_of(settings: Settings) -> Opener | None:
    if not settings.notifications_contact_key_file.is_file():
        return None  # no address can be read: mails wait in the queue
    return Opener.from_file(settings.notifications_contact_key_file)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    notifications = NotificationsApplication(
        env=settings.eventsourcing_env(), outbox=outbox_of(settings),
        opener=opener_of(settings), portal_url=settings.portal_public_url,
        sender=settings.notifications_mail_from,
    )
    runtime = ServiceRuntime(settings, notifications, lambda _event: None)
    inbound.register(runtime.inbound, notifications)

    runtime.also_run(WorkList(
        notifications, "mail-sender", opened=Mail.QUEUED, closed=Mail.SENT, work=notifications.send,
        coordinator=runtime.coordinator, max_wait=settings.notifications_retry_max_seconds,
    ))
    return runtime.http_app(
        [],
        title="Notifications",
        description="E-mails to the citizen at each step of the dossier, sent from a queue "
        "kept in the service's store and retried while the mail server is away.",
        domain_errors={},
    )


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings)
