"""Pages of a list: opaque cursors and the RFC 8288 `Link: <...>; rel="next"` header."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlencode

from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

CURSOR_FORMAT = re.compile(r"([on])([0-9]{1,18})")  # older / newer than a position
BAD_CURSOR = "Ce curseur de pagination n'est pas valide : repartez de la première page."


def encode_cursor(direction: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{direction}{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int | None, int | None]:
    """(older_than, newer_than): where the page a cursor points at starts."""
    if cursor is None:
        return None, None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    found = CURSOR_FORMAT.fullmatch(text)
    if found is None:
        raise ValidationException(
            detail="Les données envoyées sont invalides (champ(s) : cursor).",
            extra=[{"key": "cursor", "message": BAD_CURSOR}],
        )
    position = int(found.group(2))
    return (position, None) if found.group(1) == "o" else (None, position)


def page_links(
    path: str, query: dict[str, Any], older_than: int | None, newer_than: int | None
) -> dict[str, str]:
    """The Link header (RFC 8288) to the next (older) and previous (newer) pages, if any."""
    links = [
        f'<{path}?{urlencode({**query, "cursor": encode_cursor(direction, position)})}>; '
        f'rel="{rel}"'
        for rel, direction, position in (("next", "o", older_than), ("prev", "n", newer_than))
        if position is not None
    ]
    return {"Link": ", ".join(links)} if links else {}


class ListBeingUpdated(HTTPException):
    """The list has not yet taken in every change stored before the request."""

    status_code = HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self) -> None:
        super().__init__(
            detail="La liste de vos demandes est en cours de mise à jour : réessayez dans un "
            "instant.",
            headers={"Retry-After": "1"},
        )
