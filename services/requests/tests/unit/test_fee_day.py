"""Requests quotes the fees on the same calendar as payment: the day in Paris."""

from __future__ import annotations

import inspect

from ants_runtime.fees import today_in_france
from requests_service.application import RequestsApplication


def test_the_amount_due_is_quoted_on_the_paris_date_by_default() -> None:
    default = inspect.signature(RequestsApplication).parameters["today"].default
    assert default is today_in_france
    requests = RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    assert requests.today is today_in_france
