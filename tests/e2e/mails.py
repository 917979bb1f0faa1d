"""Reading what the local mail server received (one .eml per message)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path


def received(mail_dir: Path) -> list[EmailMessage]:
    """Every message, in the order the server took them."""
    if not mail_dir.is_dir():
        return []
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(mail_dir.glob("*.eml"))
    ]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


def about(mail_dir: Path, dossier_id: str) -> list[EmailMessage]:
    """The messages whose link points at this dossier."""
    return [m for m in received(mail_dir) if f"/dossiers/{dossier_id}" in text_of(m)]
