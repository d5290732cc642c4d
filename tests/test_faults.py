"""Injected faults: latency, a chosen status for N requests, dropped connections, trickled bodies."""

from __future__ import annotations

import time

import pytest
import requests

from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import listed


def _add(mock: LiveMock, fault: dict[str, object]) -> dict[str, object]:
    created: dict[str, object] = mock.control("POST", "faults", fault)
    return created


def _last_note(mock: LiveMock) -> str:
    entries = [e for e in mock.control("GET", "journal") if e["operationId"]]
    note: str = entries[-1]["note"]
    return note


def test_status_for_the_next_n_requests_of_one_operation(admin: requests.Session, mock: LiveMock) -> None:
    fault = _add(mock, {"operation": "getJobs", "status": 503, "count": 2})
    for _ in range(2):
        response = admin.get(f"{mock.url}/@jobs")
        assert response.status_code == 503
        assert response.json()["error"]["type"] == "Injected fault"
    assert admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}").status_code == 200
    assert admin.get(f"{mock.url}/@jobs").status_code == 200
    assert _last_note(mock) == ""
    assert mock.control("GET", "faults") == []
    assert fault["id"] and fault["status"] == 503


def test_injected_status_changes_nothing(admin: requests.Session, mock: LiveMock) -> None:
    before = listed(admin, mock)
    _add(mock, {"operation": "deleteJob", "status": 500, "count": 1})
    assert admin.delete(f"{mock.url}/@jobs/{DOCUMENTED_ID}").status_code == 500
    assert listed(admin, mock) == before


def test_fixed_latency_on_every_operation(admin: requests.Session, mock: LiveMock) -> None:
    _add(mock, {"latency": 0.3})
    started = time.monotonic()
    assert admin.get(f"{mock.url}/@jobs").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert _last_note(mock).endswith("latency 0.3-0.3 s")


def test_latency_range_on_one_operation(admin: requests.Session, mock: LiveMock) -> None:
    _add(mock, {"operation": "getJob", "latency": [0.2, 0.4]})
    admin.get(f"{mock.url}/@jobs")
    assert _last_note(mock) == "", "another operation is not held back"
    started = time.monotonic()
    admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}")
    assert time.monotonic() - started >= 0.2
    assert _last_note(mock).endswith("latency 0.2-0.4 s")


def test_dropped_connection(admin: requests.Session, mock: LiveMock) -> None:
    _add(mock, {"operation": "getJobs", "drop": True, "count": 1})
    with pytest.raises(requests.ConnectionError):
        admin.get(f"{mock.url}/@jobs")
    assert _last_note(mock).endswith("dropped connection")
    assert admin.get(f"{mock.url}/@jobs").status_code == 200


def test_trickled_body_arrives_whole_but_slowly(admin: requests.Session, mock: LiveMock) -> None:
    whole = admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}").content
    _add(mock, {"operation": "getJob", "trickle": {"bytes": 64, "interval": 0.05}, "count": 1})
    started = time.monotonic()
    response = admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}")
    assert response.content == whole
    assert time.monotonic() - started >= 0.05 * (len(whole) // 64)


def test_faults_are_listed_removed_and_cleared(mock: LiveMock) -> None:
    first = _add(mock, {"status": 502})
    _add(mock, {"latency": 0.1, "operation": "login"})
    assert len(mock.control("GET", "faults")) == 2
    assert requests.delete(f"{mock.url}/__mock__/faults/{first['id']}").status_code == 204
    assert requests.delete(f"{mock.url}/__mock__/faults/{first['id']}").status_code == 404
    assert [f["operation"] for f in mock.control("GET", "faults")] == ["login"]
    assert requests.delete(f"{mock.url}/__mock__/faults").status_code == 204
    assert mock.control("GET", "faults") == []


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        pytest.param({}, "needs at least one of", id="empty"),
        pytest.param({"status": 42}, "status: expected a whole number from 200 to 599", id="bad-status"),
        pytest.param({"status": 100}, "status: expected a whole number from 200 to 599", id="continue"),
        pytest.param({"status": 101}, "status: expected a whole number from 200", id="switching-protocols"),
        pytest.param({"status": 103}, "status: expected a whole number from 200", id="early-hints"),
        pytest.param({"status": 199}, "status: expected a whole number from 200", id="199"),
        pytest.param({"status": 600}, "status: expected a whole number from 200", id="600"),
        pytest.param({"status": 503.5}, "got 503.5", id="fractional-status"),
        pytest.param({"status": "503"}, "got '503'", id="status-as-text"),
        pytest.param({"status": True}, "got True", id="status-as-boolean"),
        pytest.param({"latency": 1e306}, "latency: expected a number from 0 to 600", id="huge-latency"),
        pytest.param({"trickle": {"bytes": 0.5}}, "trickle.bytes: expected a whole number", id="fractional-bytes"),
        pytest.param({"trickle": {"interval": 1e306}}, "trickle.interval: expected a number", id="huge-interval"),
        pytest.param({"trickle": {"chunk": 1}}, "trickle: unknown fields ['chunk']", id="unknown-trickle-field"),
        pytest.param({"status": 500, "count": 1e300}, "count: expected a whole number", id="huge-count"),
        pytest.param({"latency": [2, 1]}, "from low to high", id="backwards-range"),
        pytest.param({"latency": -1}, "latency: expected a number", id="negative"),
        pytest.param({"status": 500, "operation": "nope"}, "operation: 'nope' is not one of", id="unknown-operation"),
        pytest.param({"status": 500, "operation": {}}, "operation: {} is not one of", id="operation-object"),
        pytest.param(
            {"status": 500, "operation": ["getJobs"]}, "operation: ['getJobs'] is not one of", id="operation-list"
        ),
        pytest.param({"drop": 0}, "drop: expected true or false, got 0", id="drop-zero"),
        pytest.param({"status": 500, "count": None}, "count: expected a value, got null", id="null-count"),
        pytest.param({"drop": "yes"}, "drop: expected true or false", id="bad-flag"),
        pytest.param({"status": 500, "colour": "red"}, "unknown fault fields ['colour']", id="unknown-field"),
        pytest.param({"trickle": 5}, "trickle: expected", id="bad-trickle"),
        pytest.param({"status": 500, "count": 0}, "count: expected a whole number from 1", id="zero-count"),
    ],
)
def test_bad_faults_are_refused(mock: LiveMock, fault: dict[str, object], needle: str) -> None:
    response = requests.post(f"{mock.url}/__mock__/faults", json=fault)
    assert response.status_code == 400 and needle in response.json()["error"]["message"]
    assert mock.control("GET", "faults") == []


@pytest.mark.parametrize("status", [200, 204, 304, 418, 599])
def test_any_final_status_can_be_injected(admin: requests.Session, mock: LiveMock, status: int) -> None:
    mock.control("POST", "faults", {"operation": "getJobs", "status": status, "count": 1})
    response = admin.get(f"{mock.url}/@jobs", timeout=5)
    assert response.status_code == status
    if status not in (204, 304):
        assert response.json()["error"]["type"] == "Injected fault"


def test_raw_json_numbers_a_fault_cannot_hold_are_refused(mock: LiveMock) -> None:
    for raw in (b'{"latency": NaN}', b'{"latency": Infinity}', b'{"latency": 1e400}', b'{"status": -Infinity}'):
        response = requests.post(f"{mock.url}/__mock__/faults", data=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and "not a finite number" in response.json()["error"]["message"], raw
    assert mock.control("GET", "faults") == []


def test_cli_faults_are_defaults_that_reset_restores() -> None:
    config = MockConfig(faults=({"latency": [0.0, 0.0]}, {"operation": "getJobs", "status": 503}))
    with LiveMock(config=config, clock=Clock(manual=True)) as server:
        token = requests.post(f"{server.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        assert requests.get(f"{server.url}/@jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 503
        server.control("DELETE", "faults")
        server.control("POST", "reset")
        assert len(server.control("GET", "faults")) == 2
