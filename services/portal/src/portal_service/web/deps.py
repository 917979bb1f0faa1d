"""What a page handler receives, declared once (Litestar injects each by its parameter name)."""

from __future__ import annotations

from typing import Any, TypeAlias
from uuid import UUID

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import FromPath

from portal_service.clients import Services
from portal_service.once import OnceGuard
from portal_service.settings import Settings
from portal_service.web.common import User

HttpRequest: TypeAlias = Request[Any, Any, Any]
ServicesDep: TypeAlias = NamedDependency[Services]
UserDep: TypeAlias = NamedDependency[User]
GuardDep: TypeAlias = NamedDependency[OnceGuard]
SettingsDep: TypeAlias = NamedDependency[Settings]
PathUUID: TypeAlias = FromPath[UUID]
