"""Creating an account, logging in and out."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template

from portal_service.clients import ApiError
from portal_service.web.common import (
    FormErrors,
    User,
    current_user,
    flash,
    render,
    safe_next,
    sign_in,
    sign_out,
)
from portal_service.web.deps import HttpRequest, ServicesDep, UserDep

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
ACCOUNT_FIELDS = ("given_name", "family_name", "email", "password")
LOGIN_FIELDS = ("email", "password")


def home_of(user: User) -> str:
    return "/cert" if user.is_agent and not user.is_citizen else "/mon-espace"


class AccountsController(Controller):
    @get("/compte/creation", name="account.new")
    async def new_account(self, request: HttpRequest) -> Template:
        return render(request, "accounts/new.html", values={})

    @post("/compte/creation")
    async def create_account(
        self, request: HttpRequest, data: Form, services: ServicesDep
    ) -> Template | Redirect:
        values = {name: str(data.get(name, "")).strip() for name in ACCOUNT_FIELDS}
        values["password"] = str(data.get("password", ""))
        try:
            await services.register(
                values["email"], values["password"], values["given_name"], values["family_name"]
            )
            token = await services.login(values["email"], values["password"], client_of(request))
            sign_in(request, token, await services.me(token))
        except ApiError as error:
            values["password"] = ""
            return render(
                request, "accounts/new.html", status=error.status if error.status < 500 else 400,
                values=values, errors=FormErrors.of(error, ACCOUNT_FIELDS),
            )
        return Redirect("/compte/bienvenue")

    @get("/compte/bienvenue")
    async def welcome(self, request: HttpRequest, user: UserDep) -> Template:
        return render(request, "accounts/welcome.html")

    @get("/connexion", name="login")
    async def login_form(
        self, request: HttpRequest, suivant: FromQuery[str | None] = None
    ) -> Template | Redirect:
        user = current_user(request)
        if user is not None:
            return Redirect(safe_next(suivant, home_of(user)))
        return render(request, "accounts/login.html", values={}, next=suivant or "")

    @post("/connexion")
    async def login(
        self, request: HttpRequest, data: Form, services: ServicesDep
    ) -> Template | Redirect:
        email = str(data.get("email", "")).strip()
        target = str(data.get("suivant", ""))
        try:
            token = await services.login(email, str(data.get("password", "")), client_of(request))
            user = sign_in(request, token, await services.me(token))
        except ApiError as error:
            return render(
                request, "accounts/login.html", status=error.status if error.status < 500 else 400,
                values={"email": email}, next=target,
                errors=FormErrors.of(error, LOGIN_FIELDS),
            )
        return Redirect(safe_next(target, home_of(user)))

    @post("/deconnexion")
    async def logout(self, request: HttpRequest) -> Redirect:
        sign_out(request)
        flash(request, "Vous êtes déconnecté. À bientôt !", "success")
        return Redirect("/connexion")


def client_of(request: HttpRequest) -> str | None:
    """The person's address as the portal sees it (behind a trusted proxy, uvicorn has
    already put the forwarded client there)."""
    return request.client.host if request.client else None
