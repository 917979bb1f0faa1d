"""Requests use cases: start, declare, submit, and the facts coming back from other services."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ParamSpec, TypeVar
from uuid import UUID, uuid4

from ants_runtime.fees import FeeSchedule, today_in_france
from ants_runtime.inbound import NotReady
from ants_runtime.store import ServiceApplication, retry_on_conflict
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from requests_service.adapters.dossier_list import dossier_list_of
from requests_service.adapters.siv import SeededSiv, VehicleRecord, VehicleRegistry
from requests_service.domain.dossier import Dossier, VehicleLock, check_choices
from requests_service.domain.errors import (
    Busy,
    DossierNotFound,
    InvalidRequest,
    NotHolder,
    RequestAlreadyOpen,
    TooEarly,
    VehicleNotFound,
)
from requests_service.domain.plates import normalise_plate
from requests_service.domain.situation import SituationCertificate, situation_number
from requests_service.rendering.situation import stolen_vehicle

MAX_ATTEMPTS = 20
P = ParamSpec("P")
R = TypeVar("R")


def parked_while_too_early(handler: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(handler)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        except TooEarly as early:
            raise NotReady(str(early)) from early

    return run


@dataclass(frozen=True)
class DossierPage:
    """Dossiers, newest first, and where the pages around it start (None: no such page)."""

    dossiers: list[Dossier]
    older_than: int | None  # the next page: the dossiers started before this position
    newer_than: int | None  # the previous page: the dossiers started after this position


class RequestsApplication(ServiceApplication):
    name = "requests"
    snapshotting_intervals = {Dossier: 50}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        siv: VehicleRegistry | None = None,
        fees: FeeSchedule | None = None,
        today: Callable[[], date] = today_in_france,
    ) -> None:
        super().__init__(env)
        self.siv = siv or SeededSiv.load()
        self.fees = fees or FeeSchedule.load()
        self.today = today
        self.dossier_list = dossier_list_of(self, self.get_dossier)

    # --- the certificat de situation administrative ---------------------------------------

    def issue_situation(
        self, account_id: UUID, given_name: str, family_name: str, plate: str,
        render: Callable[[VehicleRecord, str, datetime], bytes],
    ) -> IssuedSituation:
        """The CSA of a vehicle the caller holds or co-holds, recorded for its verification."""
        plate = normalise_plate(plate)
        vehicle = self.siv.find(plate)
        if vehicle is None:
            raise VehicleNotFound(
                f"Aucun véhicule immatriculé {plate} n'est connu du système d'immatriculation "
                "des véhicules (SIV). Vérifiez le numéro.",
                field="plate",
            )
        check_holds(vehicle, given_name, family_name)
        issued_at = datetime.now(UTC)
        number = situation_number(issued_at.year, uuid4())
        pdf = render(vehicle, number, issued_at)
        self.save(SituationCertificate(
            number, plate, account_id, issued_at.isoformat(), situation_facts(vehicle)
        ))
        return IssuedSituation(number, pdf)

    def vehicles_held(
        self, given_name: str, family_name: str, limit: int
    ) -> tuple[list[VehicleRecord], bool]:
        """The vehicles the SIV gives to this name as holder or co-holder, by plate, and
        whether there are more than `limit` of them."""
        held = self.siv.held_by(given_name, family_name)
        return held[:limit], len(held) > limit

    def situation(self, number: str) -> SituationCertificate | None:
        try:
            return self.repository.get(SituationCertificate.create_id(number))
        except AggregateNotFoundError:
            return None

    # --- the citizen's steps -------------------------------------------------------------

    def start(
        self, account_id: UUID, given_name: str, family_name: str,
        reason: str, person: str, special_case: bool, plate: str, birthdate: str = "",
    ) -> Dossier:
        """For a person whose identity an identity provider verified: their given names,
        family name and birth date as it vouched for them are checked against the SIV."""
        check_choices(reason, person)  # input before state: the SIV and the holder next
        plate = normalise_plate(plate)
        vehicle = self.siv.find(plate)
        if vehicle is None:
            raise VehicleNotFound(
                f"Aucun véhicule immatriculé {plate} n'est connu du système d'immatriculation "
                "des véhicules (SIV). Vérifiez le numéro.",
                field="plate",
            )
        check_requester(vehicle, person, special_case, given_name, family_name, birthdate)
        for attempt in range(MAX_ATTEMPTS):
            lock = self.vehicle_lock(plate)
            if lock.open_dossier_id is not None:
                raise RequestAlreadyOpen(
                    f"Une demande de duplicata est déjà en cours pour le véhicule {plate}. "
                    "Reprenez-la depuis votre panier.",
                    field="plate",
                )
            dossier = new_dossier(
                account_id, reason, person, special_case, vehicle,
                {"given_name": given_name, "family_name": family_name},
            )
            lock.claim(dossier.id)
            try:
                self.save(dossier, lock)
            except IntegrityError:
                # A concurrent request claimed the vehicle: look again.
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            return dossier
        raise Busy("Le service est très sollicité : réessayez dans un instant.")

    @retry_on_conflict()
    def declare(self, dossier_id: UUID, sworn_statement: bool, legal_terms: bool) -> Dossier:
        dossier = self.get_dossier(dossier_id)
        dossier.accept_declarations(sworn_statement, legal_terms)
        self.save(dossier)
        return dossier

    @retry_on_conflict()
    def submit(self, dossier_id: UUID) -> Dossier:
        dossier = self.get_dossier(dossier_id)
        dossier.submit()
        if not dossier.needs_documents:
            dossier.make_payable(self.amount_due())
        self.save(dossier)
        return dossier

    @retry_on_conflict()
    def cancel(self, dossier_id: UUID) -> Dossier:
        dossier = self.get_dossier(dossier_id)
        dossier.cancel("Annulée par le demandeur")
        lock = self.vehicle_lock(dossier.vehicle["plate"])
        lock.release(dossier.id)
        self.save(dossier, lock)
        return dossier

    @retry_on_conflict()
    def post_citizen_message(
        self, dossier_id: UUID, author_id: UUID, text: str, document_id: UUID | None = None
    ) -> dict[str, Any]:
        dossier = self.get_dossier(dossier_id)
        dossier.reply(str(uuid4()), str(author_id), text, str(document_id) if document_id else None)
        self.save(dossier)
        return dossier.messages[-1]

    def has_document(self, dossier_id: UUID, document_id: UUID) -> bool:
        """Whether this document's upload has reached the dossier (DeclarationUploaded)."""
        return str(document_id) in self.get_dossier(dossier_id).document_kinds

    # --- reading -------------------------------------------------------------------------

    def get_dossier(self, dossier_id: UUID) -> Dossier:
        try:
            dossier: object = self.repository.get(dossier_id)
        except AggregateNotFoundError:
            raise DossierNotFound from None
        if not isinstance(dossier, Dossier):
            raise DossierNotFound
        return dossier

    def dossiers_page(
        self, account_id: UUID, include_closed: bool = False, limit: int = 20,
        older_than: int | None = None, newer_than: int | None = None,
    ) -> DossierPage:
        """A page of the account's dossiers, newest first, from the dossier list read model
        (kept by a projector: see app.py): the first page, or the one a cursor of another
        page points at. A few indexed reads, whatever the number of dossiers."""
        listed = functools.partial(
            self.dossier_list.page, account_id, include_closed=include_closed
        )
        if newer_than is None:
            rows = listed(before=older_than, limit=limit + 1)
            shown = rows[:limit]
            more_older = len(rows) > limit
            more_newer = older_than is not None and bool(
                shown and listed(after=shown[0].started_seq, limit=1)
            )
        else:
            rows = listed(after=newer_than, limit=limit + 1)
            shown = rows[-limit:]
            more_newer = len(rows) > limit
            more_older = bool(shown and listed(before=shown[-1].started_seq, limit=1))
        return DossierPage(
            [self.get_dossier(row.dossier_id) for row in shown],
            older_than=shown[-1].started_seq if more_older else None,
            newer_than=shown[0].started_seq if more_newer else None,
        )

    def history(self, dossier_id: UUID) -> list[Any]:
        self.get_dossier(dossier_id)
        return list(self.events.get(dossier_id))

    def amount_due(self) -> dict[str, Any]:
        quote = self.fees.quote(self.today())
        return {
            "total": f"{quote.total:.2f}",
            "currency": quote.currency,
            "lines": [
                {"code": f.code, "label": f.label, "amount": f"{f.amount:.2f}"} for f in quote.lines
            ],
        }

    def vehicle_lock(self, plate: str) -> VehicleLock:
        try:
            return self.repository.get(VehicleLock.create_id(plate))
        except AggregateNotFoundError:
            return VehicleLock(plate=plate)

    # --- facts from the other services: each returns the aggregates to save -------------
    # A fact that comes before the one it follows raises NotReady: the runtime parks it and
    # applies it after the dossier's next change.

    @parked_while_too_early
    def on_document_uploaded(
        self, dossier_id: UUID, kind: str, document_id: UUID, sha256: str, media_type: str
    ) -> list[Any]:
        dossier = self.get_dossier(dossier_id)
        changed = dossier.receive_document(kind, str(document_id), sha256, media_type)
        return [dossier] if changed else []

    @parked_while_too_early
    def on_attachment_rejected(self, dossier_id: UUID, review_id: UUID, document_id: UUID, reason: str, note: str) -> list[Any]:
        dossier = self.get_dossier(dossier_id)
        changed = dossier.reject_document(str(review_id), str(document_id), reason, note)
        return [dossier] if changed else []

    @parked_while_too_early
    def on_attachment_accepted(self, dossier_id: UUID, review_id: UUID, document_id: UUID, note: str) -> list[Any]:
        """Payable once the CERT accepted every required document."""
        dossier = self.get_dossier(dossier_id)
        if not dossier.accept_document(str(review_id), str(document_id), note):
            return []
        if not dossier.needs_documents:
            dossier.make_payable(self.amount_due())
        return [dossier]

    def on_agent_message(self, dossier_id: UUID, message_id: UUID, author_id: UUID, text: str) -> list[Any]:
        dossier = self.get_dossier(dossier_id)
        changed = dossier.post_message(str(message_id), str(author_id), "cert_agent", text)
        return [dossier] if changed else []

    @parked_while_too_early
    def on_payment_recorded(self, dossier_id: UUID, payment_id: UUID, amount: str, currency: str) -> list[Any]:
        dossier = self.get_dossier(dossier_id)
        return [dossier] if dossier.record_payment(str(payment_id), amount, currency) else []

    @parked_while_too_early
    def on_certificate_issued(
        self, dossier_id: UUID, certificate_number: str, valid_until: date, documents: list[dict[str, str]]
    ) -> list[Any]:
        dossier = self.get_dossier(dossier_id)
        if not dossier.complete(certificate_number, valid_until.isoformat(), documents):
            return []
        lock = self.vehicle_lock(dossier.vehicle["plate"])
        lock.release(dossier.id)
        return [dossier, lock]

    @parked_while_too_early
    def on_definitive_in_production(
        self, dossier_id: UUID, order_number: str, duplicate_date: date
    ) -> list[Any]:
        dossier = self.get_dossier(dossier_id)
        changed = dossier.record_definitive_in_production(order_number, duplicate_date.isoformat())
        return [dossier] if changed else []

    @parked_while_too_early
    def on_definitive_dispatched(
        self, dossier_id: UUID, tracking_number: str, at: datetime
    ) -> list[Any]:
        dossier = self.get_dossier(dossier_id)
        changed = dossier.record_definitive_dispatched(tracking_number, at.isoformat())
        return [dossier] if changed else []


@dataclass(frozen=True)
class IssuedSituation:
    number: str
    pdf: bytes


def situation_facts(vehicle: VehicleRecord) -> dict[str, Any]:
    return {
        "pledges": len(vehicle.pledges),
        "objections": len(vehicle.objections),
        "vehicle_theft_recorded": stolen_vehicle(vehicle),
        "certificate_theft_recorded": vehicle.theft_of_title_recorded,
    }


def check_holds(vehicle: VehicleRecord, given_name: str, family_name: str) -> None:
    """Only the holder or a co-holder gets the vehicle's CSA."""
    if vehicle.holder.is_named(given_name, family_name):
        return
    if any(p.is_named(given_name, family_name) for p in vehicle.co_holders):
        return
    raise NotHolder(
        f"Selon le SIV, vous n'êtes ni titulaire ni co-titulaire du véhicule {vehicle.plate} : "
        "seuls eux peuvent obtenir son certificat de situation administrative.",
        field="plate",
    )


def check_requester(
    vehicle: VehicleRecord, person: str, special_case: bool, given_name: str, family_name: str,
    birthdate: str = "",
) -> None:
    """Who may ask. A mandataire or a buyer is not the holder in the SIV: the documents the
    CERT reviews (mandate, certificat de cession, identity documents) take the holder
    check's place."""
    is_holder = vehicle.holder.is_named(given_name, family_name, birthdate)
    is_co_holder = any(p.is_named(given_name, family_name, birthdate) for p in vehicle.co_holders)
    if special_case:
        if is_holder or is_co_holder:
            raise InvalidRequest(
                f"Selon le SIV, le véhicule {vehicle.plate} est déjà à votre nom : le cas "
                "particulier « Le véhicule m'a été cédé » concerne l'acheteur d'un véhicule "
                "qui n'est pas encore immatriculé à son nom. Décochez-le.",
                field="special_case",
            )
        return
    if person == "mandataire":
        return
    if person == "titulaire" and is_holder:
        return
    if person == "cotitulaire" and is_co_holder:
        return
    role = "titulaire" if person == "titulaire" else "co-titulaire"
    raise NotHolder(
        f"Selon le SIV, vous n'êtes pas {role} du certificat d'immatriculation du véhicule "
        f"{vehicle.plate}. Seul le titulaire ou un co-titulaire peut demander un duplicata, "
        "ou un mandataire pour son compte.",
        field="person",
    )


def new_dossier(
    account_id: UUID, reason: str, person: str, special_case: bool, vehicle: VehicleRecord,
    requester: dict[str, str],
) -> Dossier:
    dossier_id = uuid4()
    dossier = Dossier(
        id=dossier_id,
        dossier_number=f"DUP-{datetime.now(UTC):%Y}-{dossier_id.hex[:8].upper()}",
        account_id=account_id,
        reason=reason,
        person=person,
        special_case=special_case,
        vehicle={
            "plate": vehicle.plate, "vin": vehicle.vin, "make": vehicle.make,
            "model": vehicle.model, "first_registration": vehicle.first_registration,
        },
        holder={
            "given_name": vehicle.holder.given_name, "family_name": vehicle.holder.family_name,
            "address": vehicle.holder.address,
        },
        theft_recorded_in_siv=vehicle.theft_of_title_recorded,
        started_at=datetime.now(UTC).isoformat(),
        requester=requester,
    )
    return dossier
