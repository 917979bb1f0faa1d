"""What every page shares: the signed-in person, flash messages, form errors, rendering."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.response import Redirect, Template

from portal_service.clients import ApiError


class NotLoggedIn(Exception):
    """The page needs a signed-in person."""


@dataclass(frozen=True)
class User:
    token: str
    account_id: str
    given_name: str
    family_name: str
    roles: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_agent(self) -> bool:
        """CERT agents, and auditors who read the reviews without deciding."""
        return "cert_agent" in self.roles or "auditor" in self.roles

    @property
    def is_auditor(self) -> bool:
        return "auditor" in self.roles

    @property
    def decides_reviews(self) -> bool:
        return "cert_agent" in self.roles

    @property
    def is_citizen(self) -> bool:
        return "citizen" in self.roles


def session_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The session dictionary, made anew when the session was cleared or never set."""
    data = request.scope.get("session")
    if not isinstance(data, dict):
        data = {}
        request.set_session(data)
    return data


def current_user(request: Request[Any, Any, Any]) -> User | None:
    data = session_of(request).get("user")
    if not data:
        return None
    return User(
        data["token"], data["account_id"], data["given_name"], data["family_name"],
        tuple(data.get("roles", ())),
    )


async def provide_user(request: Request[Any, Any, Any]) -> User:
    user = current_user(request)
    if user is None:
        raise NotLoggedIn
    return user


def sign_in(request: Request[Any, Any, Any], token: str, me: dict[str, Any]) -> User:
    request.set_session({"user": {
        "token": token,
        "account_id": str(me["account_id"]),
        "given_name": me["given_name"],
        "family_name": me["family_name"],
        "roles": list(me.get("roles", [])),
    }})
    user = current_user(request)
    assert user is not None
    return user


def sign_out(request: Request[Any, Any, Any]) -> None:
    request.set_session({})


def flash(request: Request[Any, Any, Any], message: str, kind: str = "info") -> None:
    """A message shown once, on the next page (after a redirect)."""
    session = session_of(request)
    session["flash"] = [*session.get("flash", []), {"kind": kind, "text": message}]


def pop_flashes(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    session = session_of(request)
    messages = list(session.get("flash", []))
    if messages:
        session["flash"] = []
    return messages


def new_form_token() -> str:
    """Drawn once per rendered form: the key of its single submission."""
    return secrets.token_urlsafe(24)


# After logging in again, a form's address leads back to the page that showed it.
PAGE_OF_FORM = re.compile(r"^(/dossiers/[0-9a-f-]{36}|/cert/revues/[0-9a-f-]{36})(/.*)?$")


def login_redirect(request: Request[Any, Any, Any]) -> Redirect:
    target = request.url.path
    if request.method != "GET":
        page = PAGE_OF_FORM.match(target)
        target = page.group(1) if page else "/mon-espace"
    elif request.url.query:
        target += f"?{request.url.query}"
    return Redirect(f"/connexion?suivant={quote(target, safe='')}")


def safe_next(target: str | None, default: str) -> str:
    """Only a path of this site: never an address elsewhere (open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


class FormErrors:
    """The services' refusals, placed next to the fields they concern.

    `fields` lists the fields the page shows; an error about any other field, or about no
    field, is shown at the top of the form only.
    """

    def __init__(self, items: list[tuple[str | None, str]] | None = None,
                 fields: tuple[str, ...] = (), prefix: str = "field-") -> None:
        self.items = items or []
        self.fields = fields
        self.prefix = prefix

    @classmethod
    def of(cls, error: ApiError, fields: tuple[str, ...], prefix: str = "field-") -> FormErrors:
        return cls(list(error.errors), fields, prefix)

    @classmethod
    def single(cls, message: str, field: str | None = None,
               fields: tuple[str, ...] = ()) -> FormErrors:
        return cls([(field, message)], fields)

    def id_of(self, field: str) -> str:
        """The id of the field's input: the error summary links to it."""
        return f"{self.prefix}{field}"

    def __bool__(self) -> bool:
        return bool(self.items)

    def get(self, field: str) -> str | None:
        for name, message in self.items:
            if name == field and field in self.fields:
                return message
        return None

    @property
    def summary(self) -> list[dict[str, str | None]]:
        seen: set[str] = set()
        entries = []
        for name, message in self.items:
            if message in seen:
                continue
            seen.add(message)
            anchor = self.id_of(name) if name and name in self.fields else None
            entries.append({"anchor": anchor, "message": message})
        return entries


def render(
    request: Request[Any, Any, Any], template: str, status: int = 200, **context: Any
) -> Template:
    context.setdefault("errors", FormErrors())
    return Template(
        template_name=template,
        context={"user": current_user(request), "flashes": pop_flashes(request), **context},
        status_code=status,
    )


def error_page(
    request: Request[Any, Any, Any], status: int, title: str, message: str,
    back: str | None = None,
) -> Template:
    return render(request, "error.html", status=status, title=title, message=message, back=back)
