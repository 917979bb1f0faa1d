"""Pages of a list: opaque cursors and the RFC 8288 `Link: <...>; rel="next"` header."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlencode

from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

CURSOR_FORMAT = re.compile(r"s([0-9]{1,18})")
BAD_CURSOR = "Ce curseur de pagination n'est pas valide : repartez de la première page."


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"s{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
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
    return int(found.group(1))


def next_link(path: str, query: dict[str, Any], next_position: int | None) -> dict[str, str]:
    """The Link header pointing at the next page (none on the last page)."""
    if next_position is None:
        return {}
    target = urlencode({**query, "cursor": encode_cursor(next_position)})
    return {"Link": f'<{path}?{target}>; rel="next"'}


class ListBeingUpdated(HTTPException):
    """The list has not yet taken in every change stored before the request."""

    status_code = HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self) -> None:
        super().__init__(
            detail="La liste de vos demandes est en cours de mise à jour : réessayez dans un instant.",
            headers={"Retry-After": "1"},
        )
