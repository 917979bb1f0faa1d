"""The SMTP relays (from a thread, from the event loop) against a real mail server
(aiosmtpd): one kept connection for many messages, a new one when the server closed it,
and a clear failure when it is away."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

from ants_runtime.mail import AsyncSmtpRelay, RecipientRefused, SmtpRelay
from ants_stack.stack import free_port


class Received:
    """Every message the server took, with the connection it came on."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, str]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("nobody@"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        subject = envelope.content.decode().split("Subject: ", 1)[1].split("\r\n", 1)[0]
        self.messages.append((id(session), subject))
        return "250 OK"


def letter(subject: str, to: str = "julien@example.fr") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ne-pas-repondre@ants.example", to, subject
    message.set_content("Bonjour")
    return message


@pytest.fixture
def port() -> int:
    return free_port()


def serve(received: Received, port: int) -> Controller:
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def test_messages_share_one_connection_and_a_closed_one_is_opened_again(port: int) -> None:
    received = Received()
    server = serve(received, port)
    relay = SmtpRelay("127.0.0.1", port, security="none")
    try:
        for n in range(3):
            relay.send(letter(f"un {n}"))
        assert [s for _, s in received.messages] == ["un 0", "un 1", "un 2"]
        assert len({c for c, _ in received.messages}) == 1

        # The server restarts: the kept connection is dead, the next message still goes.
        server.stop()
        server = serve(received, port)
        relay.send(letter("deux"))
        assert received.messages[-1][1] == "deux"
        assert received.messages[-1][0] != received.messages[0][0]

        # A refused address is the caller's to settle; the connection stays usable.
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            relay.send(letter("refusé", to="nobody@example.fr"))
        relay.send(letter("trois"))
        assert received.messages[-1] == (received.messages[-2][0], "trois")

        # The server is away: the failure is raised (the caller tries again later).
        server.stop()
        with pytest.raises((OSError, smtplib.SMTPException)):
            relay.send(letter("perdu"))
        server = serve(received, port)
        relay.send(letter("quatre"))
        assert [s for _, s in received.messages] == ["un 0", "un 1", "un 2", "deux", "trois", "quatre"]
    finally:
        relay.close()
        server.stop()


async def test_the_event_loop_relay_keeps_its_connection_and_tells_a_refused_address(port: int) -> None:
    received = Received()
    server = serve(received, port)
    relay = AsyncSmtpRelay("127.0.0.1", port, security="none")
    try:
        for n in range(3):
            await relay.deliver(letter(f"un {n}"))
        assert [s for _, s in received.messages] == ["un 0", "un 1", "un 2"]
        assert len({c for c, _ in received.messages}) == 1

        server.stop()  # a restart: the kept connection is dead, the next message still goes
        server = serve(received, port)
        await relay.deliver(letter("deux"))
        assert received.messages[-1][1] == "deux"
        assert received.messages[-1][0] != received.messages[0][0]

        with pytest.raises(RecipientRefused):
            await relay.deliver(letter("refusé", to="nobody@example.fr"))
        await relay.deliver(letter("trois"))
        assert received.messages[-1] == (received.messages[-2][0], "trois")

        server.stop()  # away: the failure is raised, the caller tries again later
        with pytest.raises((OSError, aiosmtplib.SMTPException)):
            await relay.deliver(letter("perdu"))
        server = serve(received, port)
        await relay.deliver(letter("quatre"))
        assert [s for _, s in received.messages] == ["un 0", "un 1", "un 2", "deux", "trois", "quatre"]
    finally:
        await relay.close()
        server.stop()
