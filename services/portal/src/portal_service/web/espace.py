"""The welcome page, « Mon Espace » and the basket (« Accès au panier »)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import Parameter
from litestar.response import Redirect, Template

from portal_service.clients import ApiError, Services
from portal_service.web.common import render
from portal_service.web.deps import HttpRequest, ServicesDep, UserDep


class EspaceController(Controller):
    @get("/", name="home")
    async def home(self, request: HttpRequest) -> Template:
        return render(request, "home.html")

    @get("/mon-espace", name="espace")
    async def espace(
        self, request: HttpRequest, user: UserDep, services: ServicesDep
    ) -> Template | Redirect:
        if not user.is_citizen:
            return Redirect("/cert")
        in_progress = await services.basket(user.token)
        latest = await services.basket(user.token, everything=True)
        finished = [d for d in latest.dossiers if d["status"] == "completed"]
        return render(
            request, "espace/home.html", open_dossiers=in_progress.dossiers,
            more_open=in_progress.next_cursor is not None, finished=finished[:5],
            held=await self._vehicles(services, user.token),
        )

    @staticmethod
    async def _vehicles(services: Services, token: str) -> dict[str, Any] | None:
        """The person's vehicles for their CSA; the page stands without them."""
        try:
            return await services.vehicles(token)
        except ApiError:
            return None

    @get("/panier", name="basket")
    async def basket(
        self, request: HttpRequest, user: UserDep, services: ServicesDep,
        page: Annotated[str | None, Parameter(max_length=64)] = None,
    ) -> Template | Redirect:
        """The requests in progress, a page at a time; `page` is the requests service's
        opaque cursor of that page."""
        try:
            found = await services.basket(user.token, cursor=page)
        except ApiError as error:
            if error.status != 422:
                raise
            return Redirect("/panier")  # a page address made up or mangled: the first page
        return render(
            request, "espace/basket.html", dossiers=found.dossiers, paged=page is not None,
            next_page=found.next_cursor, previous_page=found.previous_cursor,
        )
