"""The journal and the errors list: bounded rings that count what they drop; a client that leaves is its own doing."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from jobspec import load_spec
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import spec_copy


def _send_and_close(url: str, raw: bytes) -> None:
    """Send `raw` on a fresh connection and close it without reading the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(raw)


def _wait_for_entry(mock: LiveMock, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [entry for entry in mock.control("GET", "journal") if entry["path"] == path]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no journal entry for {path}")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/__mock__/jobs", id="control-api"),
        pytest.param("/@login", id="jobs-api"),
    ],
)
def test_a_body_cut_short_is_the_clients_doing(mock: LiveMock, caplog: pytest.LogCaptureFixture, path: str) -> None:
    head = f"POST {path} HTTP/1.1\r\nHost: {urlsplit(mock.url).netloc}\r\nContent-Type: application/json\r\n"
    with caplog.at_level(logging.INFO):
        _send_and_close(mock.url, head.encode() + b'Content-Length: 100\r\n\r\n{"title"')
        entry = _wait_for_entry(mock, path)
    assert entry["status"] == 499
    assert entry["note"] == "the client closed the connection before its answer"
    assert mock.errors() == [], "a client that leaves is not the mock's error"
    assert not [record for record in caplog.records if record.exc_info], "no traceback in the log"


def test_the_journal_keeps_the_newest_entries_and_counts_the_dropped() -> None:
    with LiveMock(config=MockConfig(journal_size=5), clock=Clock(manual=True)) as mock:
        for _ in range(12):
            requests.get(f"{mock.url}/openapi.json", timeout=5)
        response = requests.get(f"{mock.url}/__mock__/journal", timeout=5)
        entries = response.json()
        assert len(entries) == 5
        assert [entry["seq"] for entry in entries] == list(range(8, 13))
        assert response.headers["X-Mock-Dropped"] == "7"


def test_a_reset_empties_the_journal_but_keeps_the_count_of_dropped_entries() -> None:
    with LiveMock(config=MockConfig(journal_size=5), clock=Clock(manual=True)) as mock:
        for _ in range(12):
            requests.get(f"{mock.url}/openapi.json", timeout=5)
        requests.post(f"{mock.url}/__mock__/reset", json={}, timeout=5).raise_for_status()
        requests.get(f"{mock.url}/openapi.json", timeout=5)
        response = requests.get(f"{mock.url}/__mock__/journal", timeout=5)
        entries = response.json()
        # The reset is journaled after it emptied the journal: it, then the request after it.
        assert [(entry["seq"], entry["path"]) for entry in entries] == [(13, "/__mock__/reset"), (14, "/openapi.json")]
        assert response.headers["X-Mock-Dropped"] == "7"


def _job_needs_an_owner(document: dict[str, Any]) -> None:
    document["components"]["schemas"]["JobWithId"]["allOf"][1]["required"].append("owner")


def test_the_errors_list_is_bounded_too(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = load_spec(spec_copy(tmp_path, _job_needs_an_owner))
    config = MockConfig(strict=True, journal_size=2)
    with caplog.at_level(logging.CRITICAL), LiveMock(spec, config=config, clock=Clock(manual=True)) as mock:
        token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        for _ in range(5):
            answer = requests.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 500 and answer.json()["error"]["type"] == "Mock error"
        response = requests.get(f"{mock.url}/__mock__/errors", timeout=5)
        assert len(response.json()) == 2
        assert response.headers["X-Mock-Dropped"] == "3"


def test_the_mocks_own_500_says_it_is_the_mocks_error(mock: LiveMock) -> None:
    # A broken job in the store (only a bug could put it there) makes the list fail to build.
    mock.state.store.jobs[DOCUMENTED_ID].body = None  # type: ignore[assignment]
    mock.state.store._list_cache = None
    token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
    answer = requests.get(f"{mock.url}/@jobs", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {"type": "Mock error", "message": "The mock server failed; see GET /__mock__/errors."}
    }
    [error] = mock.errors()
    assert error["path"] == "/@jobs" and error["error"].startswith("TypeError")
    mock.state.journal.errors.clear()  # the fixture's check is for errors the test did not make on purpose
