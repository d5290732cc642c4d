"""The mock in a real headless browser: CORS from another origin, the /docs page, the live views of the mock and the proxy.

Debian's Chromium driven by Playwright for Python (`executable_path`; Playwright's own browser
download is never used). Screenshots go to $ARTIFACTS_DIR, or tests/artifacts/.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from jobspec import load_spec
from jobsproxy.testing import LiveProxy
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.fakejobs import Violation, serve
from tests.helpers import fresh
from tests.traffic import frontend_session

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if importlib.util.find_spec("playwright") is None:
    MISSING: str | None = "Playwright for Python is not installed (pip install -e '.[test]' brings it)"
elif CHROMIUM is None:
    MISSING = "no Chromium on PATH (Debian: apt-get install chromium; or set CHROMIUM=/path/to/chromium)"
else:
    MISSING = None
# .ci/run sets JOBS_KIT_REQUIRE_FRONTEND=1 in CI, where a missing browser is a broken install step, not a skip.
REQUIRED = os.environ.get("JOBS_KIT_REQUIRE_FRONTEND") == "1"
pytestmark = pytest.mark.skipif(MISSING is not None and not REQUIRED, reason=f"browser tests skipped: {MISSING}")
# Without the background-networking switches Chromium phones home at start, and a closed network refuses it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
STARTING_JOBS = 7
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

# A frontend developer's page on their own origin: log in to the mock and list its jobs, with credentials.
APP_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Jobs app</title></head>
<body data-state="loading">
  <h1>Jobs (from another origin)</h1>
  <p>count: <b id="count">-</b> · a POST the path does not declare: <b id="allow">-</b> · delete, then get:
     <b id="deleted">-</b></p>
  <p id="error"></p>
  <ul id="titles"></ul>
  <script type="module">
    const api = new URLSearchParams(location.search).get("api");
    const show = (id, text) => { document.getElementById(id).textContent = text; };
    try {
      const login = await fetch(api + "/@login", {
        method: "POST",
        credentials: "include",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({login: "admin", password: "admin"}),
      });
      if (!login.ok) throw new Error("login answered " + login.status);
      const {token} = await login.json();
      const auth = {Authorization: "Bearer " + token};
      const list = await fetch(api + "/@jobs", {credentials: "include", headers: auth});
      if (!list.ok) throw new Error("list answered " + list.status);
      const jobs = await list.json();
      show("count", String(jobs.length));
      for (const job of jobs) {
        const li = document.createElement("li");
        li.dataset.uuid = job.uuid;
        li.dataset.status = job.status;
        li.textContent = job.title;
        document.getElementById("titles").append(li);
      }
      // A method the path does not declare: Nick's 404 naming the path, a CORS response the page can read (no Allow).
      const refused = await fetch(api + "/@jobs", {method: "POST", credentials: "include", headers: auth});
      show("allow", refused.status + " " + refused.headers.get("Allow") + " " + (await refused.json()).error);
      // DELETE is no simple method: the preflight must allow it. Then the job is gone (a readable 404).
      const last = api + "/@jobs/" + jobs[jobs.length - 1].uuid;
      const deleted = await fetch(last, {method: "DELETE", credentials: "include", headers: auth});
      const gone = await fetch(last, {credentials: "include", headers: auth});
      show("deleted", deleted.status + " " + gone.status + " " + (await gone.json()).error);
      document.body.dataset.state = "done";
    } catch (error) {
      show("error", error.name + ": " + error.message);
      document.body.dataset.state = "error";
    }
  </script>
</body>
</html>
"""


# A hostile page: it cannot read the mock's answers, so it tries to change the mock blindly, as a page can
# (a no-cors fetch with a simple content type, and a form posted into a hidden frame).
HOSTILE_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Cute cats</title></head>
<body data-state="loading">
  <iframe name="sink" hidden></iframe>
  <form method="POST" target="sink" enctype="text/plain"><input name='{"status": 503, "x": "' value='"}'></form>
  <script type="module">
    const api = new URLSearchParams(location.search).get("api");
    await Promise.allSettled([
      fetch(api + "/__mock__/reset", {method: "POST", mode: "no-cors", body: "{}"}),
      fetch(api + "/__mock__/jobs", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
                                     body: JSON.stringify({title: "Planted"})}),
    ]);
    const form = document.querySelector("form");
    form.action = api + "/__mock__/faults";
    const posted = new Promise((resolve) => document.querySelector("iframe").addEventListener("load", resolve));
    form.submit();
    await posted;
    document.body.dataset.state = "done";
  </script>
</body>
</html>
"""
PAGES = {"/hostile.html": HOSTILE_PAGE}


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path.split("?")[0], APP_PAGE).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the browser, not the access log."""


class PageServer:
    """The frontend's own origin: a plain HTTP server on a loopback port of its own."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="page-server", daemon=True)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def allowed_site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture(scope="module")
def other_site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture(scope="module")
def browser_mock(allowed_site: PageServer) -> Iterator[LiveMock]:
    """A strict mock with a hand-driven clock that lets the allowed site's origin call it."""
    config = MockConfig(strict=True, seed=7, cors_origins=(allowed_site.origin,))
    with LiveMock(config=config, clock=Clock(manual=True)) as server:
        yield server


@pytest.fixture
def mock(browser_mock: LiveMock) -> Iterator[LiveMock]:
    """The browser's mock reset to its starting data; the test fails if the mock reported its own errors meanwhile."""
    yield from fresh(browser_mock)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one module: Playwright's sync API keeps an event loop running in this thread while it
    lives, and a later test calling asyncio.run() (a CLI's main) would find it."""
    if MISSING is not None:
        pytest.fail(f"JOBS_KIT_REQUIRE_FRONTEND=1 but {MISSING}")
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no shared cache, storage or preflight cache) with one page."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: $ARTIFACTS_DIR, or tests/artifacts/."""
    folder = Path(os.environ.get("ARTIFACTS_DIR") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _journal(mock: LiveMock) -> list[tuple[str, str, int]]:
    """The jobs API requests the mock answered since its reset (no control API, docs or assets)."""
    entries = mock.control("GET", "journal")
    return [(e["method"], e["path"], e["status"]) for e in entries if e["path"].startswith("/@")]


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT_MS / 1000) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "through-jobs-proxy"])
def test_a_page_on_an_allowed_origin_logs_in_and_lists_jobs_with_credentials(
    mock: LiveMock, allowed_site: PageServer, page: Page, artifacts: Path, through_proxy: bool
) -> None:
    with LiveProxy(mock.url) if through_proxy else nullcontext() as proxy:
        page.goto(f"{allowed_site.origin}/app.html?api={proxy.url if proxy else mock.url}")
        page.wait_for_selector("body[data-state=done], body[data-state=error]")
        page.screenshot(path=artifacts / f"cors-allowed-origin{'-proxied' if proxy else ''}.png", full_page=True)
        if proxy:  # preflights and all: what the browser got is what the mock sent, and none of it breaks the spec
            report = proxy.report()
            assert report.violations == 0, report.journal
            assert report.calls == {
                "login": {"200": 1},
                "getJobs": {"200": 1},
                "deleteJob": {"204": 1},
                "getJob": {"404": 1},
            }

    assert page.text_content("#error") == ""
    assert page.get_attribute("body", "data-state") == "done"
    assert page.text_content("#count") == str(STARTING_JOBS)
    titles = page.locator("#titles li").all_text_contents()
    assert titles[0] == "Reindex Events" and len(titles) == STARTING_JOBS
    assert page.get_attribute(f"#titles li[data-uuid='{DOCUMENTED_ID}']", "data-status") == "created"
    # The exposed headers reach the page's script.
    assert page.text_content("#allow") == "404 null Not found: /@jobs"
    assert page.text_content("#deleted") == "204 404 Not found."
    last = f"/@jobs/{page.locator('#titles li').last.get_attribute('data-uuid')}"
    assert _journal(mock) == [
        ("POST", "/@login", 200),
        ("GET", "/@jobs", 200),
        ("POST", "/@jobs", 404),
        ("DELETE", last, 204),
        ("GET", last, 404),
    ]


def test_a_page_on_another_origin_cannot_read_the_mock(
    mock: LiveMock, other_site: PageServer, page: Page, artifacts: Path
) -> None:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(f"{other_site.origin}/app.html?api={mock.url}")
    page.wait_for_selector("body[data-state=done], body[data-state=error]")
    page.screenshot(path=artifacts / "cors-refused-origin.png", full_page=True)

    assert page.get_attribute("body", "data-state") == "error"
    assert page.text_content("#error") == "TypeError: Failed to fetch"
    assert page.text_content("#count") == "-"
    assert any("blocked by CORS policy" in message for message in messages), messages
    # The preflight got no CORS answer, so the browser never sent the login itself.
    assert [request for request in _journal(mock) if request[0] != "OPTIONS"] == []


def test_a_hostile_page_cannot_drive_the_control_api(
    mock: LiveMock, other_site: PageServer, page: Page, artifacts: Path
) -> None:
    kept = mock.control("POST", "jobs", {"title": "Mine", "params": {"mock": {"delay": 86400}}})
    before = mock.control("GET", "journal")[-1]["seq"]
    page.goto(f"{other_site.origin}/hostile.html?api={mock.url}")
    page.wait_for_selector("body[data-state=done]")
    page.screenshot(path=artifacts / "hostile-page.png")

    attempts = [(e["method"], e["path"], e["status"]) for e in mock.control("GET", f"journal?since={before}")]
    attacks = [attempt for attempt in attempts if attempt[1] != "/__mock__/journal"]
    assert sorted(attacks) == [("POST", f"/__mock__/{path}", 403) for path in ("faults", "jobs", "reset")], attempts
    titles = [job["title"] for job in mock.control("GET", "jobs")]
    assert kept["title"] in titles and "Planted" not in titles, "neither reset nor planted"
    assert mock.control("GET", "faults") == []


def test_docs_render_every_operation_and_try_it_out_authorises_through_login(
    mock: LiveMock, page: Page, artifacts: Path
) -> None:
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    page.goto(f"{mock.url}/docs")
    page.wait_for_selector(".opblock")
    page.screenshot(path=artifacts / "docs.png")

    assert page.title() == "Nick jobs API – jobs-mock"
    assert page.locator(".info .title").inner_text().startswith("Nick CMS jobs API")
    spec = load_spec()
    expected = sorted((operation.method.upper(), operation.path) for operation in spec.operations.values())
    shown = sorted(
        (
            block.locator(".opblock-summary-method").inner_text(),
            block.locator(".opblock-summary-path").get_attribute("data-path") or "",
        )
        for block in page.locator(".opblock").all()
    )
    assert shown == expected
    for operation_id in ("getJobs", "getJob", "deleteJob", "abortJob", "retryJob", "login"):
        assert page.locator(f"[id$='-{operation_id}']").count() == 1, operation_id

    # "Try it out" on POST /@login with the documented example body, then GET /@jobs: authorised.
    login = page.locator("[id$='-login'].opblock")
    login.locator(".opblock-summary").click()
    login.locator(".try-out__btn").click()
    assert json.loads(login.locator("textarea.body-param__text").input_value()) == {
        "login": "admin",
        "password": "admin",
    }
    login.locator(".execute").click()
    assert login.locator(".live-responses-table tbody .response-col_status").first.inner_text() == "200"
    jobs = page.locator("[id$='-getJobs'].opblock")
    jobs.locator(".opblock-summary").click()
    jobs.locator(".try-out__btn").click()
    jobs.locator(".execute").click()
    assert jobs.locator(".live-responses-table tbody .response-col_status").first.inner_text() == "200"
    assert "Reindex Events" in jobs.locator(".live-responses-table tbody .response-col_description").first.inner_text()
    jobs.screenshot(path=artifacts / "docs-try-it-out.png")

    assert _journal(mock) == [("POST", "/@login", 200), ("GET", "/@jobs", 200)]
    assert hosts == {mock.url.split("/")[2]}, "the docs fetched something from another host"


def test_live_view_shows_the_jobs_follows_the_worker_and_drives_the_control_api(
    mock: LiveMock, page: Page, artifacts: Path
) -> None:
    held = mock.control(
        "POST", "jobs", {"title": "Held running", "status": "running", "params": {"mock": {"duration": 86400}}}
    )
    queued = mock.control(
        "POST", "jobs", {"title": "Queued", "status": "created", "params": {"mock": {"delay": 5, "duration": 86400}}}
    )
    page.goto(f"{mock.url}/__mock__/")
    rows = page.locator("table#jobs tbody tr[data-uuid]")
    page.wait_for_selector(f"table#jobs tbody tr[data-uuid='{held['uuid']}']")

    assert rows.count() == STARTING_JOBS + 2
    assert rows.first.get_attribute("data-uuid") == DOCUMENTED_ID
    assert rows.first.locator("td.title").inner_text() == "Reindex Events"
    statuses = {row.get_attribute("data-status") for row in rows.all()}
    assert statuses == {"created", "running", "completed", "failed", "aborted"}
    for row in rows.all():
        assert row.locator("td.status").inner_text() == row.get_attribute("data-status")
        options = row.locator("select.move-to option").all_inner_texts()
        assert options == ["created", "running", "completed", "failed", "aborted"]
        assert row.locator("button.move").count() == row.locator("button.fail").count() == 1
    assert TIMESTAMP.search(page.inner_text("#clock"))
    page.screenshot(path=artifacts / "live-view.png", full_page=True)

    # The worker moves a job (the clock advanced outside the page): the view follows without a reload.
    queued_row = page.locator(f"tr[data-uuid='{queued['uuid']}']")
    assert queued_row.get_attribute("data-status") == "created"
    mock.control("POST", "clock/advance", {"seconds": 10})
    page.wait_for_selector(f"tr[data-uuid='{queued['uuid']}'][data-status=running]")

    # "Make it fail" on the held job.
    held_row = page.locator(f"tr[data-uuid='{held['uuid']}']")
    held_row.locator("button.fail").click()
    page.wait_for_selector(f"tr[data-uuid='{held['uuid']}'][data-status=failed]")
    assert held_row.locator("td.status").inner_text() == "failed"
    assert _job(mock, held["uuid"])["status"] == "failed"

    # Move the documented job to running with the row's select and button.
    documented_row = page.locator(f"tr[data-uuid='{DOCUMENTED_ID}']")
    documented_row.locator("select.move-to").select_option("running")
    documented_row.locator("button.move").click()
    page.wait_for_selector(f"tr[data-uuid='{DOCUMENTED_ID}'][data-status=running]")
    assert _job(mock, DOCUMENTED_ID)["status"] == "running"
    page.screenshot(path=artifacts / "live-view-after-actions.png", full_page=True)

    # Reset: the created jobs are gone and the documented one is back in created.
    page.click("button#reset")
    page.wait_for_selector(f"tr[data-uuid='{held['uuid']}']", state="detached")
    _wait_for(lambda: rows.count() == STARTING_JOBS, "the live view to show the starting jobs")
    page.wait_for_selector(f"tr[data-uuid='{DOCUMENTED_ID}'][data-status=created]")
    assert len(mock.control("GET", "jobs")) == STARTING_JOBS


def _job(mock: LiveMock, job_id: str) -> dict[str, Any]:
    """One job as the control API's list holds it."""
    jobs: list[dict[str, Any]] = mock.control("GET", "jobs")
    return next(job for job in jobs if job["uuid"] == job_id)


def test_proxy_live_page_shows_violations_as_they_come_and_the_coverage(page: Page, artifacts: Path) -> None:
    with serve(Violation.ABORT_IGNORED) as server, LiveProxy(server.url) as proxy:
        page.goto(f"{proxy.url}/__proxy__/")
        page.wait_for_selector("#verdict.good")  # nothing has passed through yet
        frontend_session(proxy.url)  # the page polls: what happens now must show without a reload
        row = page.wait_for_selector("#violations tbody tr.violation")
        assert row is not None and "transition_result [abortJob on running]" in row.inner_text()
        page.wait_for_selector("#verdict.bad")
        assert page.inner_text("#upstream") == server.url
        seen = len(proxy.violations())  # all of the session's: it has ended
        assert seen > 0
        # The page polls: the violations that came after the first show on a later poll.
        _wait_for(lambda: int(page.inner_text("#count")) == seen, f"the page to count {seen} violations")
        cells = page.locator("#matrix tbody td.FAIL").all_inner_texts()
        assert cells == ["FAIL"]
        assert "abortJob" in page.inner_text("#calls")
        page.screenshot(path=artifacts / "proxy-live-page.png", full_page=True)
