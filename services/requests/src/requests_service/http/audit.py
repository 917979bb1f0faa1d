"""The auditor's API: a dossier's whole history across services, its state at any version or
instant, and the export bundle that `ants-audit verify` checks offline."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get
from litestar.params import Parameter

from ants_runtime.audit_trail import AuditTrail
from ants_runtime.auth import Principal
from ants_runtime.http import error_responses, require_role
from ants_runtime.service import ServiceRuntime
from requests_service.application import RequestsApplication
from requests_service.audit import dossier_as_of, stream_versions
from requests_service.http.views import dossier_view

AUDITOR = "auditor"
CATCH_UP_SECONDS = 5.0
COVERAGE_WAIT_SECONDS = 10.0
WHY = {403: "Not an auditor", 404: "No such dossier (or none yet at that version or time)"}


class AuditController(Controller):
    path = "/dossiers"
    tags = ["audit"]

    @get(
        "/{dossier_id:uuid}/audit", summary="The dossier's whole history, every service (auditor)",
        description="Every event published about the dossier by requests, cert, payment and "
        "documents, in causal order, as read from the topics: service, type and its version, "
        "position in the producer's stream (`stream_version` too for the requests stream), "
        "time, actor (account id and roles, or the service that reacted), correlation id of "
        "the HTTP request at its origin, and data.",
        responses=error_responses(400, 401, 403, 404, why=WHY),
    )
    async def whole_history(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication,
        trail: AuditTrail,
    ) -> list[dict[str, Any]]:
        require_role(principal, AUDITOR)
        await requests.call(requests.get_dossier, dossier_id)
        await trail.caught_up(CATCH_UP_SECONDS)
        entries = await requests.call(trail.history, str(dossier_id))
        versions = await requests.call(stream_versions, requests, dossier_id)
        for entry in entries:
            if entry["service"] == "requests":
                entry["stream_version"] = versions.get(entry["event_id"])
        return entries

    @get(
        "/{dossier_id:uuid}/audit/state", summary="The dossier as it was (auditor)",
        description="Rebuilt from the requests stream: after its event `as_of_version`, or "
        "after the last event stored at or before `as_of` (ISO 8601); now without either.",
        responses=error_responses(400, 401, 403, 404, 422, why=WHY),
    )
    async def state(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication,
        as_of_version: Annotated[int | None, Parameter(ge=1)] = None,
        as_of: Annotated[datetime | None, Parameter(description="ISO 8601 instant")] = None,
    ) -> dict[str, Any]:
        require_role(principal, AUDITOR)
        dossier = await requests.call(dossier_as_of, requests, dossier_id, as_of_version, as_of)
        return dossier_view(dossier, requests)

    @get(
        "/{dossier_id:uuid}/audit/bundle", summary="The dossier's history with its proofs (auditor)",
        description="One JSON document: the events in order, each with its published record "
        "and its inclusion proof in its producer's signed log, the checkpoints and the keys "
        "that sign them, and a manifest signed by this service. Format: docs/audit-bundle.md.",
        responses=error_responses(400, 401, 403, 404, why=WHY),
    )
    async def bundle(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication,
        trail: AuditTrail, runtime: ServiceRuntime,
    ) -> dict[str, Any]:
        require_role(principal, AUDITOR)
        await requests.call(requests.get_dossier, dossier_id)
        await trail.caught_up(CATCH_UP_SECONDS)
        deadline = time.monotonic() + COVERAGE_WAIT_SECONDS  # checkpoints come every few s
        while await requests.call(trail.uncovered, str(dossier_id)):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
            await trail.caught_up(CATCH_UP_SECONDS)
        signer = runtime.checkpointer.signer  # type: ignore[attr-defined]
        # Every leaf of every service's log is hashed: off the loop, whatever the store.
        return await asyncio.to_thread(trail.bundle, str(dossier_id), signer, "requests")
