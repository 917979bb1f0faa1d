"""The welcome page, « Mon Espace » and the basket (« Accès au panier »)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Redirect, Template

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
        open_dossiers = await services.basket(user.token)
        everything = await services.basket(user.token, everything=True)
        finished = [d for d in everything if d["status"] == "completed"]
        return render(
            request, "espace/home.html", open_dossiers=open_dossiers, finished=finished[:5]
        )

    @get("/panier", name="basket")
    async def basket(self, request: HttpRequest, user: UserDep, services: ServicesDep) -> Template:
        dossiers = await services.basket(user.token)
        return render(request, "espace/basket.html", dossiers=dossiers)
