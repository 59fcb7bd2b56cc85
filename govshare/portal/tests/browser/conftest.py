"""Browser tests: a live demo city (built once per run, served per worker) driven by Playwright and Debian's
Chromium. Skipped, with the reason, only outside CI when Chromium or Playwright is missing; in CI (``CI`` set)
they must run. They run in the SQLite pass only: the PostgreSQL pass skips them (the demo server always runs
on its own SQLite file, so a second run would test nothing new).

Screenshots go to ``<pytest base temp>/browser-screenshots/<role or journey>/``; the run's summary prints the
folder when this directory is on the command line (with pytest-xdist the controller loads this conftest only
then)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govshare.portal.tests.browser import harness


def _missing() -> str:
    if not harness.chromium_available():
        return f"Chromium not found at {harness.CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return ""


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    missing = _missing()
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.browser)
        if not {"site", "built_demo"} & set(getattr(item, "fixturenames", ())):
            continue  # a pure helper test: runs everywhere
        if on_postgres:
            item.add_marker(pytest.mark.skip(reason="browser tests run in the SQLite pass only"))
        elif missing and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason=missing))


SHOTS_FOLDER = "browser-screenshots"


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    """The run's base temp folder, shared by the pytest-xdist workers (each has a ``popen-gwN`` below it)."""
    root = factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


def pytest_terminal_summary(terminalreporter: Any) -> None:
    factory = getattr(terminalreporter.config, "_tmp_path_factory", None)
    if factory is None or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    folder = factory.getbasetemp() / SHOTS_FOLDER
    if folder.is_dir() and any(folder.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {folder}")


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo home, built once per run: with pytest-xdist the workers share the base temp folder's parent."""
    if missing := _missing():
        pytest.fail(f"CI is set but the browser tests cannot run: {missing}")
    built = _shared_root(tmp_path_factory) / "browser-demo"
    harness.build(built)
    return built


@pytest.fixture(scope="session")
def site(built_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Site]:
    with harness.serve(built_demo, tmp_path_factory.mktemp("served") / "home") as served:
        yield served


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = _shared_root(tmp_path_factory) / SHOTS_FOLDER
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(site: harness.Site) -> Iterator[Any]:
    # Module scope: Playwright's sync API marks an event loop as running in this thread while it is alive,
    # which Django's async-safety check would refuse in the ordinary tests that follow on the same worker.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(**harness.launch_options())
        try:
            yield chromium
        finally:
            chromium.close()


class Sessions:
    """Signed-in browser contexts, one sign-in per user per module (one-time codes are single use)."""

    def __init__(self, browser: Any, site: harness.Site) -> None:
        self.browser, self.site = browser, site
        self._state: dict[str, Any] = {}
        self._contexts: list[Any] = []

    def page(self, username: str | None = None) -> Any:
        """A new page, signed in as ``username`` (anonymous when None)."""
        if username is not None and username not in self._state:
            context = self._new_context()
            page = context.new_page()
            harness.sign_in(page, self.site, username)
            assert "/accounts/login/" not in page.url, f"sign-in as {username} failed: {page.inner_text('main')}"
            self._state[username] = context.storage_state()
            return page
        context = self._new_context(storage_state=self._state.get(username) if username else None)
        return context.new_page()

    def _new_context(self, **kwargs: Any) -> Any:
        context = self.browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, **kwargs)
        context.set_default_timeout(15_000)
        self._contexts.append(context)
        return context

    def close(self) -> None:
        for context in self._contexts:
            context.close()
        self._contexts.clear()


@pytest.fixture(scope="module")
def sessions(browser: Any, site: harness.Site) -> Iterator[Sessions]:
    made = Sessions(browser, site)
    yield made
    made.close()
