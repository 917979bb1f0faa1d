"""The demo's mailbox page: the kept e-mails, newest first, only where the demo keeps them."""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from litestar.testing import TestClient

from portal_service.app import create_app
from portal_service.clients import Services
from portal_service.settings import Settings


def keep(folder: Path, name: str, subject: str, to: str, at: datetime, body: str) -> None:
    message = EmailMessage()
    message["Subject"], message["To"], message["From"] = subject, to, "ne-pas-repondre@ants.test"
    message["Date"] = format_datetime(at)
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    (folder / name).write_bytes(message.as_bytes())


def test_the_kept_mails_are_listed_newest_first_with_their_link(
    settings: Settings, fake: Any, tmp_path: Path
) -> None:
    keep(tmp_path, "20261129T100000000000-aaaa.eml", "Dossier DUP-1 : votre demande est enregistrée",
         "julien.paul@example.fr", datetime(2026, 11, 29, 10, tzinfo=UTC),
         "Bonjour,\n\nSuivre : http://127.0.0.1:8000/dossiers/1234.")
    keep(tmp_path, "20261129T110000000000-bbbb.eml", "Dossier DUP-1 : votre certificat provisoire est prêt",
         "julien.paul@example.fr", datetime(2026, 11, 29, 11, tzinfo=UTC), "Bonjour,\n\nPrêt <vraiment>.")
    demo = settings.model_copy(update={"portal_mail_dir": tmp_path})
    services = Services(demo, transport=httpx.MockTransport(fake))
    with TestClient(create_app(demo, services)) as client:
        page = client.get("/demo/courriels")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert text.index("certificat provisoire est prêt") < text.index("votre demande est enregistrée")
    assert "julien.paul@example.fr" in text and "29 novembre 2026 à 12 h 00" in text
    assert '<a href="http://127.0.0.1:8000/dossiers/1234">' in page.text
    assert "&lt;vraiment&gt;" in page.text  # the body is text, never markup


def test_without_a_mail_folder_the_page_does_not_exist(client: TestClient[Any]) -> None:
    assert client.get("/demo/courriels").status_code == 404
