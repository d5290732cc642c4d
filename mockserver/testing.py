"""A live mock on a loopback port, in a background thread: for tests, ours and our users'."""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
import urllib.request
from dataclasses import replace
from typing import Any

import requests

from httpserving import Serving
from jobspec import Spec
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.domain.state import MockState
from mockserver.http.app import create_app
from mockserver.http.context import STATE
from mockserver.sessionclient import MockSession, control_call


class LiveMock:
    """Owns its event loop, runner and port; `url` is where it listens once started."""

    def __init__(self, spec: Spec | None = None, *, config: MockConfig | None = None, clock: Clock | None = None):
        config = replace(config or MockConfig(), host="127.0.0.1", port=0)
        self.app = create_app(spec, config=config, clock=clock)
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._serving = Serving(self.app, request_timeout=config.request_timeout, idle_timeout=config.idle_timeout)
        self._thread = threading.Thread(target=self._loop.run_forever, name="live-mock", daemon=True)
        self._admin: requests.Session | None = None

    @property
    def state(self) -> MockState:
        """The server's state; read it only between requests (it belongs to the server's thread)."""
        return self.app[STATE]

    def start(self) -> LiveMock:
        """Bind a free loopback port and serve."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        await self._serving.start("127.0.0.1", 0, owns_loop=True)  # its own loop, in its own thread
        host, port = self._serving.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        """Shut the server down and end its thread."""
        if self._admin is not None:
            self._admin.close()
        asyncio.run_coroutine_threadsafe(self._serving.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API (`path` under /__mock__/); the decoded JSON answer, or None."""
        return control_call(self.url, method, path, body, self.state.config.control_token)

    def session(self, name: str | None = None, jobs: list[dict[str, Any]] | None = None) -> MockSession:
        """A new session of this mock (a fresh name unless given), from the starting data or from `jobs`."""
        return MockSession.create(self.url, name, jobs, token=self.state.config.control_token)

    def errors(self) -> list[dict[str, Any]]:
        """The mock's own errors so far (unexpected exceptions, strict-mode violations)."""
        return list(self.control("GET", "errors"))

    def reset(self) -> None:
        """Back to the starting jobs, clock, tokens and faults, with an empty journal (POST /__mock__/reset)."""
        self.control("POST", "reset")

    def login(self, login: str = "admin", password: str = "admin") -> requests.Session:
        """A new requests session logged in as `login` (its Authorization header set); AssertionError if refused."""
        session = requests.Session()
        response = session.post(f"{self.url}/@login", json={"login": login, "password": password}, timeout=10)
        if response.status_code != 200:
            session.close()
            raise AssertionError(f"cannot log in as {login!r}: {response.status_code} {response.text}")
        session.headers["Authorization"] = f"Bearer {response.json()['token']}"
        return session

    @property
    def admin(self) -> requests.Session:
        """A session logged in as admin/admin, made once (a reset keeps its token valid)."""
        if self._admin is None:
            self._admin = self.login()
        return self._admin

    def calls(
        self,
        operation: str | None = None,
        *,
        job: str | None = None,
        status: int | None = None,
        method: str | None = None,
        since: int | None = None,
    ) -> list[dict[str, Any]]:
        """The journal's entries matching every filter given, oldest first, without the control API's own."""
        filters = {"operation": operation, "job": job, "status": status, "method": method, "since": since}
        query = urllib.parse.urlencode({name: value for name, value in filters.items() if value is not None})
        entries = self.control("GET", f"journal?{query}" if query else "journal")
        # The control API's entries (these very queries, the reset) are the test's doing, not the client's.
        return [entry for entry in entries if not entry["path"].startswith(CONTROL)]

    def assert_called(
        self,
        operation: str,
        *,
        job: str | None = None,
        times: int | None = None,
        status: int | None = None,
        method: str | None = None,
        since: int | None = None,
    ) -> list[dict[str, Any]]:
        """Assert `operation` was answered `times` times (None: at least once) with these filters; the matching calls."""
        found = self.calls(operation, job=job, status=status, method=method, since=since)
        if (len(found) == times) if times is not None else found:
            return found
        wanted = "at least once" if times is None else _times(times)
        what = _described(operation, job=job, status=status, method=method, since=since)
        raise AssertionError(f"expected {what} {wanted}, got {_times(len(found))}.\n{self._instead(operation, since)}")

    def assert_not_called(
        self,
        operation: str,
        *,
        job: str | None = None,
        status: int | None = None,
        method: str | None = None,
        since: int | None = None,
    ) -> None:
        """Assert no journal entry matches `operation` and the filters given."""
        found = self.calls(operation, job=job, status=status, method=method, since=since)
        if found:
            what = _described(operation, job=job, status=status, method=method, since=since)
            raise AssertionError(f"expected no {what}, got {_times(len(found))}:\n{_table(found)}")

    def _instead(self, operation: str, since: int | None) -> str:
        """What was called instead: the operation's entries, or every entry when it has none."""
        same = self.calls(operation, since=since)
        if same:
            return f"Calls of {operation}:\n{_table(same)}"
        everything = self.calls(since=since)
        return f"Calls instead:\n{_table(everything)}" if everything else "The journal is empty."

    def __enter__(self) -> LiveMock:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


CONTROL = "/__mock__/"
TABLE_ROWS = 20  # the newest entries a failure shows; more only bury the one that matters


def _times(count: int) -> str:
    return {0: "no call", 1: "once", 2: "twice"}.get(count, f"{count} times")


def _described(operation: str, **filters: Any) -> str:
    given = ", ".join(f"{name}={value!r}" for name, value in filters.items() if value is not None)
    return f"{operation}({given})" if given else operation


def _table(entries: list[dict[str, Any]]) -> str:
    """Journal entries as a short aligned table, the newest `TABLE_ROWS`."""
    columns = ("seq", "method", "path", "operationId", "status", "jobId", "note")
    rows = [columns] + [
        tuple("-" if entry.get(c) in (None, "") else str(entry[c]) for c in columns) for entry in entries[-TABLE_ROWS:]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    skipped = len(entries) - TABLE_ROWS
    return "\n".join(([f"  ({skipped} older entries not shown)"] if skipped > 0 else []) + lines)
