"""Browser-test harness: the real app, migrated and seeded with the demo data a
newcomer sees, served by uvicorn on a free loopback port, driven by the Debian
Chromium through Playwright's sync API.

Server, Playwright and browser live for the tests/e2e package (one browser for
all its tests): while Playwright's sync API runs it marks its event loop as
running in the main thread, so it must be gone before pytest-asyncio runs the
async tests collected after this package. The server has its own database (a
fresh SQLite file, or a fresh PostgreSQL database when MARKET_TEST_DB=postgresql),
so the rest of the suite, which rolls back every test, never sees what the
browser tests write.

Every page a test loads must be checked with ``assert_accessible``: the ``page``
fixture counts document loads and fails the test if one was never checked."""

import asyncio
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from market import demo
from market.app import create_app
from market.config import Settings
from market.i18n import translations
from market.migrations import upgrade
from tests.conftest import TEST_SECRET, _make_database, _pg_admin

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
BLOCKING_IMPACTS = ("serious", "critical")
DEFAULT_TIMEOUT_MS = 10_000

T = TypeVar("T")


def _(message: str, language: str = "da") -> str:
    """What the server renders for ``message`` in ``language``: the same catalogue
    the app uses, so tests read the pages in Danish (the default) by their text."""
    return translations(language).gettext(message)


def _in_thread(func: Callable[..., T], *args: Any) -> T:
    """Runs blocking work that starts its own event loop (Alembic, the demo seed)
    in a worker thread, so pytest-asyncio's loop is never replaced or disturbed."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args).result()


@dataclass
class LiveServer:
    url: str
    settings: Settings
    logins: list[tuple[str, str]]


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    database_url, pg_name = _in_thread(_make_database, tmp_path_factory.mktemp("e2e-db"))
    settings = Settings(
        environment="test",
        secret_key=TEST_SECRET,
        database_url=database_url,
        upload_dir=tmp_path_factory.mktemp("e2e-uploads"),
    )
    _in_thread(upgrade, database_url)
    logins = _in_thread(asyncio.run, demo.seed(settings))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)  # off the main thread it leaves signal handlers alone
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="e2e-uvicorn", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    _wait_until_healthy(url, thread)
    try:
        yield LiveServer(url=url, settings=settings, logins=logins)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if pg_name:
            _in_thread(asyncio.run, _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


def _wait_until_healthy(url: str, thread: threading.Thread, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the e2e server thread stopped before it answered /healthz")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last_error = exc
        time.sleep(0.05)  # polling interval while the server binds, not a fixed wait
    raise RuntimeError(f"the e2e server did not answer /healthz within {timeout} s: {last_error}")


@pytest.fixture(scope="package")
def chromium_executable() -> str:
    """Debian's Chromium, or a skip (a failure under MARKET_TEST_STRICT=1)."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
            " to run the browser tests"
        )
    return CHROMIUM


@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    # Package scope, not session: while Playwright's sync API is alive it marks its
    # own event loop as running in this thread, which would stop pytest-asyncio
    # from running the async tests collected after tests/e2e.
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(chromium_executable: str, playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(
        executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@dataclass
class _LoadLog:
    """Document loads in a page and which of them were checked with axe."""

    urls: list[str] = field(default_factory=list)
    checked: set[int] = field(default_factory=set)

    def unchecked(self) -> list[str]:
        return [url for i, url in enumerate(self.urls) if i not in self.checked]


_LOAD_LOGS: dict[int, _LoadLog] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_CALL_PASSED] = report.passed


_CALL_PASSED = pytest.StashKey[bool]()


@pytest.fixture
def page(
    chromium_executable: str,
    live_server: LiveServer,
    browser: Browser,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url, locale="da-DK", timezone_id="Europe/Copenhagen"
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    log = _LoadLog()
    _LOAD_LOGS[id(page)] = log
    page.on("load", lambda p: log.urls.append(p.url))
    try:
        yield page
    finally:
        context.close()
        _LOAD_LOGS.pop(id(page), None)
    if request.node.stash.get(_CALL_PASSED, False) and log.unchecked():
        pytest.fail(
            "pages loaded without an accessibility check (call assert_accessible after "
            f"every navigation): {log.unchecked()}"
        )


def assert_accessible(page: Page) -> None:
    """Runs axe-core on the page as it is now and fails on every serious or
    critical violation, listing rule, impact, help, the first elements, and the
    markup and axe's explanation for the first of them."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("load")
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    log = _LOAD_LOGS.get(id(page))
    if log is not None:
        log.checked.update(range(len(log.urls)))
    if blocking:
        lines = [f"axe found {len(blocking)} serious/critical violation(s) on {page.url}:"]
        for v in blocking:
            targets = [", ".join(map(str, node["target"])) for node in v["nodes"][:3]]
            more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
            lines.append(f"- {v['id']} [{v['impact']}]: {v['help']} -> {'; '.join(targets)}{more}")
            first = v["nodes"][0] if v["nodes"] else {}
            if first:
                lines.append(f"    {first.get('html', '')[:200]}")
                lines.append(f"    {' '.join(first.get('failureSummary', '').split())[:300]}")
        pytest.fail("\n".join(lines), pytrace=False)


def sign_in(page: Page, email: str, password: str = demo.DEMO_PASSWORD) -> None:
    """Fills the sign-in form on the current page (checked) and submits it."""
    page.get_by_label(_("E-mail address")).fill(email)
    page.get_by_label(_("Password"), exact=True).fill(password)
    page.get_by_role("main").get_by_role("button", name=_("Sign in")).click()
    page.wait_for_load_state("load")


@pytest.fixture
def login_as(page: Page) -> Callable[..., None]:
    """Signs in from the login page and checks both pages with axe; ends on the
    start page."""

    def login(target: Page, email: str, password: str = demo.DEMO_PASSWORD) -> None:
        target.goto("/login")
        assert_accessible(target)
        sign_in(target, email, password)
        expect(target).to_have_url(re.compile(r"/$"))
        assert_accessible(target)

    return login


def sign_out(page: Page) -> None:
    page.get_by_role("banner").get_by_role("button", name=_("Sign out")).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert_accessible(page)
