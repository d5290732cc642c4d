"""The Host rule on every path (DNS rebinding) and the control API's Origin and JSON rules (hostile pages)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from httpserving.hosts import HostRule, check_host_names
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import fresh

JSON = {"Content-Type": "application/json"}
EVERY_KIND_OF_PATH = [
    pytest.param("GET", "/@jobs", id="jobs-api"),
    pytest.param("POST", "/@login", id="login"),
    pytest.param("POST", "/__mock__/reset", id="control-api"),
    pytest.param("GET", "/__mock__/", id="live-view"),
    pytest.param("GET", "/openapi.yaml", id="spec"),
    pytest.param("GET", "/docs", id="docs"),
    pytest.param("GET", "/nope", id="unknown-path"),
]


@pytest.fixture(scope="module")
def guarded_mock() -> Iterator[LiveMock]:
    config = MockConfig(allowed_hosts=("dev.example",), cors_origins=("http://localhost:3000",))
    with LiveMock(config=config, clock=Clock(manual=True)) as server:
        yield server


@pytest.fixture
def mock(guarded_mock: LiveMock) -> Iterator[LiveMock]:
    yield from fresh(guarded_mock)


def _port(mock: LiveMock) -> int:
    port = urlsplit(mock.url).port
    assert port is not None
    return port


def _forbidden(response: requests.Response) -> str:
    assert response.status_code == 403, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    error = response.json()["error"]
    assert error["type"] == "Forbidden"
    message: str = error["message"]
    return message


@pytest.mark.parametrize(("method", "path"), EVERY_KIND_OF_PATH)
def test_a_rebound_name_gets_403_on_every_path(mock: LiveMock, method: str, path: str) -> None:
    response = requests.request(
        method, f"{mock.url}{path}", headers={**JSON, "Host": f"attacker.example:{_port(mock)}"}
    )
    message = _forbidden(response)
    assert "'attacker.example:" in message and "--allowed-host attacker.example" in message


def test_a_refused_host_changes_nothing(mock: LiveMock) -> None:
    token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
    requests.delete(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers={"Authorization": f"Bearer {token}"})
    _forbidden(requests.post(f"{mock.url}/__mock__/reset", headers={**JSON, "Host": "attacker.example"}))
    assert DOCUMENTED_ID not in {job["uuid"] for job in mock.control("GET", "jobs")}
    entry = mock.control("GET", "journal")[-2]
    assert (entry["path"], entry["status"]) == ("/__mock__/reset", 403), "refusals are journaled"


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST", "127.0.0.1", "[::1]", "dev.example", "DEV.example.", "10.1.2.3", "[fe80::1]"],
)
def test_the_mocks_own_names_and_any_address_are_answered(mock: LiveMock, host: str) -> None:
    for value in (host, f"{host}:{_port(mock)}"):
        response = requests.get(f"{mock.url}/openapi.json", headers={"Host": value})
        assert response.status_code == 200, value


def test_star_allows_any_host() -> None:
    with LiveMock(config=MockConfig(allowed_hosts=("*",)), clock=Clock(manual=True)) as server:
        assert requests.get(f"{server.url}/openapi.json", headers={"Host": "anything.example"}).status_code == 200


def test_the_listening_host_is_one_of_the_mocks_names() -> None:
    hosts = HostRule("MyBox.lan", ["ci.example"]).names
    assert hosts is not None and {"mybox.lan", "ci.example", "localhost", "127.0.0.1", "[::1]"} <= hosts
    assert "[::]" in (HostRule("::", []).names or set())
    assert HostRule("127.0.0.1", ["*"]).names is None


@pytest.mark.parametrize("name", ["http://dev.example", "dev.example:8080", "", "a b"])
def test_allowed_host_takes_names_only(name: str) -> None:
    with pytest.raises(ValueError, match="--allowed-host"):
        check_host_names([name])


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param({"Origin": "http://attacker.example", "Content-Type": "text/plain"}, "{}", id="simple-post"),
        pytest.param({"Origin": "http://attacker.example", **JSON}, "{}", id="json-from-a-foreign-origin"),
        pytest.param({"Origin": "null", **JSON}, "{}", id="sandboxed-page"),
        pytest.param({"Sec-Fetch-Site": "cross-site", **JSON}, "{}", id="cross-site-without-origin"),
    ],
)
def test_a_foreign_page_cannot_drive_the_control_api(mock: LiveMock, headers: dict[str, str], body: str) -> None:
    for path in ("reset", "faults", "jobs", "clock/advance"):
        message = _forbidden(requests.post(f"{mock.url}/__mock__/{path}", data=body, headers=headers))
        assert message.startswith("The control API does not answer")
    assert mock.control("GET", "faults") == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "http://localhost:3000"}, id="an-allowed-cors-origin"),
        pytest.param({"Sec-Fetch-Site": "same-origin"}, id="same-origin-without-origin"),
        pytest.param({"Sec-Fetch-Site": "none"}, id="typed-in-address-bar"),
    ],
)
def test_allowed_pages_drive_the_control_api(mock: LiveMock, headers: dict[str, str]) -> None:
    response = requests.post(f"{mock.url}/__mock__/faults", json={"latency": 0}, headers=headers)
    assert response.status_code == 201, response.text


def test_the_live_view_itself_is_same_origin(mock: LiveMock) -> None:
    origin = f"http://127.0.0.1:{_port(mock)}"
    response = requests.post(f"{mock.url}/__mock__/reset", headers={**JSON, "Origin": origin})
    assert response.status_code == 204


def test_a_link_from_another_site_opens_the_live_view(mock: LiveMock) -> None:
    navigation = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert requests.get(f"{mock.url}/__mock__/", headers=navigation).status_code == 200
    _forbidden(requests.get(f"{mock.url}/__mock__/jobs", headers={"Sec-Fetch-Site": "cross-site"}))


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_control_posts_take_json_only(mock: LiveMock, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("reset", "faults", "jobs", "tokens"):
        response = requests.post(f"{mock.url}/__mock__/{path}", data=b'{"latency": 0}', headers=headers)
        assert response.status_code == 415, path
        assert response.json()["error"]["type"] == "Unsupported media type"
    assert mock.control("GET", "faults") == []


def test_json_with_a_charset_is_json(mock: LiveMock) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    assert requests.post(f"{mock.url}/__mock__/faults", data=b'{"latency": 0}', headers=headers).status_code == 201


def test_the_jobs_api_answers_any_origin_as_before(mock: LiveMock) -> None:
    response = requests.post(
        f"{mock.url}/@login", json={"login": "admin", "password": "admin"}, headers={"Origin": "http://other.example"}
    )
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers
