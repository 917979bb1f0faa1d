"""Creating an account, logging in and out."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery, Parameter
from litestar.response import Redirect, Template

from portal_service.clients import ApiError
from portal_service.web.common import (
    FormErrors,
    User,
    current_user,
    flash,
    render,
    safe_next,
    session_of,
    sign_in,
    sign_out,
)
from portal_service.web.deps import HttpRequest, ServicesDep, UserDep

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
ACCOUNT_FIELDS = ("given_name", "family_name", "email", "password")
FRANCECONNECT_RETURN = "/connexion/franceconnect/retour"
FRANCECONNECT_FAILED = (
    "La connexion avec FranceConnect n'a pas abouti (elle a été annulée, a expiré, ou a été "
    "commencée dans un autre navigateur). Cliquez de nouveau sur « S'identifier avec "
    "FranceConnect »."
)
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
                values["email"], values["password"], values["given_name"], values["family_name"],
                client_of(request),
            )
            token = await services.login(values["email"], values["password"], client_of(request))
            sign_in(request, token, await services.me(token))
        except ApiError as error:
            values["password"] = ""
            page = render(
                request, "accounts/new.html", status=error.status if error.status < 500 else 400,
                values=values, errors=FormErrors.of(error, ACCOUNT_FIELDS),
            )
            if error.status == 429 and error.retry_after:
                page.headers["Retry-After"] = error.retry_after
            return page
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
            page = render(
                request, "accounts/login.html", status=error.status if error.status < 500 else 400,
                values={"email": email}, next=target,
                errors=FormErrors.of(error, LOGIN_FIELDS),
            )
            if error.status == 429 and error.retry_after:
                page.headers["Retry-After"] = error.retry_after
            return page
        return Redirect(safe_next(target, home_of(user)))

    @get("/connexion/franceconnect")
    async def franceconnect(
        self, request: HttpRequest, services: ServicesDep, suivant: FromQuery[str] = "",
    ) -> Redirect:
        """To the identity provider (a link, not a form: the pages' `form-action 'self'` would
        stop a form's redirection to another origin). The `state` is kept in this browser's
        session: the return is accepted only in the browser that left, so no one can sign a
        victim in as themselves."""
        started = await services.franceconnect_start()
        session = session_of(request)
        session["franceconnect"] = {"state": started["state"], "suivant": suivant}
        return Redirect(started["authorization_url"])

    @get(FRANCECONNECT_RETURN)
    async def franceconnect_return(
        self, request: HttpRequest, services: ServicesDep,
        returned_state: Annotated[str, Parameter(query="state")] = "",
        code: FromQuery[str] = "",
    ) -> Template | Redirect:
        state = returned_state
        left = session_of(request).pop("franceconnect", None) or {}
        if not code or not state or not hmac.compare_digest(str(left.get("state", "")), state):
            return render(
                request, "accounts/login.html", status=400, values={}, next="",
                errors=FormErrors([(None, FRANCECONNECT_FAILED)]),
            )
        try:
            token = await services.franceconnect_finish(state, code)
            user = sign_in(request, token, await services.me(token))
        except ApiError as error:
            return render(
                request, "accounts/login.html", status=error.status if error.status < 500 else 400,
                values={}, next="", errors=FormErrors.of(error, LOGIN_FIELDS),
            )
        return Redirect(safe_next(str(left.get("suivant", "")), home_of(user)))

    @post("/deconnexion")
    async def logout(self, request: HttpRequest) -> Redirect:
        sign_out(request)
        flash(request, "Vous êtes déconnecté. À bientôt !", "success")
        return Redirect("/connexion")


def client_of(request: HttpRequest) -> str | None:
    """The person's address as the portal sees it (behind a trusted proxy, uvicorn has
    already put the forwarded client there)."""
    return request.client.host if request.client else None
