"""The demo's mailbox: the e-mails the local mail server kept, as the citizens would read them.

Only with `PORTAL_MAIL_DIR` (the embedded default of `make run`); elsewhere the page does
not exist. It reads the folder directly: the mails are the demo machine's own files.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from portal_service.web.common import render
from portal_service.web.deps import HttpRequest, SettingsDep

SHOWN = 50


@dataclass(frozen=True)
class KeptMail:
    subject: str
    recipient: str
    sent_at: datetime | None
    body: str


def kept_mails(folder: Path, limit: int = SHOWN) -> tuple[list[KeptMail], int]:
    """The newest messages first (the server names each file by the instant it took it),
    and how many the folder holds."""
    files = sorted(folder.glob("*.eml"), reverse=True) if folder.is_dir() else []
    return [read_mail(path) for path in files[:limit]], len(files)


def read_mail(path: Path) -> KeptMail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    try:
        sent_at = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        sent_at = None
    return KeptMail(
        subject=str(message["Subject"] or "(sans objet)"),
        recipient=str(message["To"] or ""),
        sent_at=sent_at,
        body=part.get_content() if part is not None else "",
    )


class DemoController(Controller):
    @get("/demo/courriels", name="demo.mails")
    async def mails(self, request: HttpRequest, settings: SettingsDep) -> Template:
        if settings.portal_mail_dir is None:
            raise NotFoundException
        mails, total = kept_mails(settings.portal_mail_dir)
        return render(request, "demo/mails.html", mails=mails, total=total)
