"""Refusals of the requests domain, each with a message a person understands (French)."""


class RequestsError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidRequest(RequestsError):
    """The input cannot be accepted as given (422)."""


class VehicleNotFound(RequestsError):
    """The registry has no such vehicle (422: the plate field is wrong)."""


class NotHolder(RequestsError):
    """The requester is not the holder or a co-holder of the vehicle (403)."""


class RequestAlreadyOpen(RequestsError):
    """Another duplicate request is in progress for this vehicle (409)."""


class WrongState(RequestsError):
    """The dossier is not in a state that allows this step (409)."""


class DossierNotFound(RequestsError):
    def __init__(self) -> None:
        super().__init__("Ce dossier n'existe pas.")


class NotYourDossier(RequestsError):
    def __init__(self) -> None:
        super().__init__("Ce dossier ne vous appartient pas.")


class Busy(RequestsError):
    """Too many concurrent changes to the same records: try again (503)."""


class TooEarly(Exception):
    """A fact from another service arrived before the fact it follows (a certificate before
    its payment): it must be applied later, not dropped."""
