"""Browser fixtures: Debian's Chromium (nothing is downloaded), the portal of the e2e stack.

The browser tests run on the SQLite stack only: they check what people see and do in the
pages, which does not depend on the store; the store itself is covered on both SQLite and
PostgreSQL by the HTTP suites beside. Each browser test module selects that stack with
`ON_SQLITE_STACK` (an indirect parametrization of the session-scoped `stack` fixture: the
same cache key as the other suites' `stack[sqlite]`, so one stack serves them all).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, BrowserType, Playwright, sync_playwright

from ants_stack.stack import IDENTITY_PROVIDER, Stack
from tests.e2e.browser.support import Screens

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


# pytest-playwright keeps one Playwright for the whole session, and while it runs, its event
# loop counts as running in the main thread: `asyncio.run` (the e2e suites' Kafka reads) and
# every asyncio test that comes later in the session would fail. These three overrides give
# each browser test module its own Playwright, stopped at the module's end.


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser_type(playwright: Playwright) -> BrowserType:
    return playwright.chromium


@pytest.fixture(scope="module")
def browser(
    browser_type: BrowserType, browser_type_launch_args: dict[str, Any]
) -> Iterator[Browser]:
    launched = browser_type.launch(**browser_type_launch_args)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    return {
        "locale": "fr-FR",
        "timezone_id": "Europe/Paris",
        "viewport": {"width": 1280, "height": 900},
        "accept_downloads": True,
    }


ON_SQLITE_STACK = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


@pytest.fixture()
def portal(stack: Stack) -> str:
    if "portal" not in stack.processes:
        pytest.fail("the stack runs without the portal (config.with_portal, tests/e2e/conftest.py)")
    return stack.config.url("portal")


@pytest.fixture()
def identity_provider(stack: Stack) -> str:
    """The demo OpenID Connect provider the portal's « S'identifier avec FranceConnect » uses."""
    return stack.config.url(IDENTITY_PROVIDER)


@pytest.fixture()
def open_context(
    browser: Browser, browser_context_args: dict[str, Any]
) -> Iterator[Callable[..., BrowserContext]]:
    """A new browser context (one person's browser), the defaults above overridden by kwargs."""
    opened: list[BrowserContext] = []

    def open_one(**kwargs: Any) -> BrowserContext:
        context = browser.new_context(**{**browser_context_args, **kwargs})
        context.set_default_timeout(15_000)
        opened.append(context)
        return context

    yield open_one
    for context in opened:
        context.close()


@pytest.fixture()
def screens(request: pytest.FixtureRequest, artifacts: Path) -> Screens:
    name = re.sub(r"[^\w.-]+", "_", request.node.originalname)
    return Screens(artifacts / "screens" / name)
