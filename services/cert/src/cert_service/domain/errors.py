"""Refusals of the CERT domain, each with a message a person understands (French)."""

from __future__ import annotations


class CertError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidDecision(CertError):
    """The agent's input cannot be accepted as given (422)."""


class ReviewNotFound(CertError):
    def __init__(self) -> None:
        super().__init__("Cette pièce à contrôler n'existe pas.")


class AlreadyDecided(CertError):
    """A review is decided once (409)."""

    def __init__(self) -> None:
        super().__init__("Cette pièce a déjà été traitée.")


class ClaimedByAnother(CertError):
    def __init__(self) -> None:
        super().__init__("Cette pièce est déjà prise en charge par un autre agent.")


class ReviewClosed(CertError):
    """The review no longer needs a decision: the request was cancelled, or a newer file came."""


class ConcurrentChange(CertError):
    """Saves kept conflicting with other changes (409); rare, the agent reloads."""

    def __init__(self) -> None:
        super().__init__("Cette pièce vient d'être modifiée par ailleurs : rechargez-la.")
