"""Who may talk to jobs-proxy (issue 27, item 12): the mock's Host rule, mirrored, and no other site on its own pages.

Without them a page whose name was rebound to 127.0.0.1 reached the mock through the proxy (its
login, its control API) and read the proxy's report: the mock's own guard undone.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from jobsproxy.config import ProxyConfig
from jobsproxy.testing import LiveProxy
from mockserver.testing import LiveMock

JSON = {"Content-Type": "application/json"}
EVERY_KIND_OF_PATH = [
    pytest.param("POST", "/@login", id="login"),
    pytest.param("GET", "/@jobs", id="jobs-api"),
    pytest.param("POST", "/__mock__/reset", id="the-mocks-control-api"),
    pytest.param("GET", "/__proxy__/report", id="the-proxys-report"),
    pytest.param("GET", "/__proxy__/", id="the-proxys-live-page"),
]


@pytest.fixture
def proxy(mock: LiveMock) -> Iterator[LiveProxy]:
    with LiveProxy(mock.url, config=ProxyConfig("", allowed_hosts=("dev.example",))) as live:
        yield live


def _port(proxy: LiveProxy) -> int:
    port = urlsplit(proxy.url).port
    assert port is not None
    return port


def _seen(mock: LiveMock) -> list[str]:
    """Every request the mock has journaled, its control API's too (but the journal's own reads)."""
    return [f"{e['method']} {e['path']}" for e in mock.control("GET", "journal") if e["path"] != "/__mock__/journal"]


def _forbidden(response: requests.Response) -> str:
    assert response.status_code == 403, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    error = response.json()["error"]
    assert error["type"] == "Forbidden"
    message: str = error["message"]
    return message


@pytest.mark.parametrize(("method", "path"), EVERY_KIND_OF_PATH)
def test_a_rebound_name_gets_403_on_every_path_and_reaches_nothing(
    mock: LiveMock, proxy: LiveProxy, method: str, path: str
) -> None:
    host = f"attacker.example:{_port(proxy)}"
    before = _seen(mock)
    response = requests.request(method, f"{proxy.url}{path}", headers={**JSON, "Host": host}, data="{}")
    message = _forbidden(response)
    assert f"Host '{host}'" in message and "--allowed-host attacker.example" in message
    assert _seen(mock) == before, "nothing reached the mock"


def test_a_full_url_naming_another_host_is_refused_whatever_the_host_header(mock: LiveMock, proxy: LiveProxy) -> None:
    """A full URL as the request target stands for the Host (RFC 9112): its authority is the one judged."""
    netloc = urlsplit(proxy.url).netloc
    request = (
        f"POST http://attacker.example:{_port(proxy)}/__mock__/reset HTTP/1.1\r\nHost: {netloc}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    before = _seen(mock)
    with socket.create_connection(("127.0.0.1", _port(proxy)), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 403 ") and b"--allowed-host attacker.example" in received
    assert _seen(mock) == before


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST", "127.0.0.1", "[::1]", "dev.example", "DEV.example.", "10.1.2.3", "[fe80::1]"],
)
def test_the_proxys_own_names_and_any_address_are_answered(proxy: LiveProxy, host: str) -> None:
    for value in (host, f"{host}:{_port(proxy)}"):
        assert requests.get(f"{proxy.url}/__proxy__/summary", headers={"Host": value}).status_code == 200, value


def test_allowed_host_star_answers_any_name(mock: LiveMock) -> None:
    with LiveProxy(mock.url, config=ProxyConfig("", allowed_hosts=("*",))) as proxy:
        response = requests.get(f"{proxy.url}/__proxy__/summary", headers={"Host": "anything.example"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        pytest.param({"Origin": "http://attacker.example"}, True, id="another-sites-origin"),
        pytest.param({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, True, id="cross-site-fetch"),
        pytest.param({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, False, id="following-a-link"),
        pytest.param({"Origin": "http://{netloc}"}, False, id="its-own-origin"),
        pytest.param({}, False, id="curl"),
    ],
)
def test_the_proxys_pages_answer_no_other_sites_page(proxy: LiveProxy, headers: dict[str, str], refused: bool) -> None:
    netloc = urlsplit(proxy.url).netloc
    sent = {name: value.format(netloc=netloc) for name, value in headers.items()}
    response = requests.get(f"{proxy.url}/__proxy__/report", headers=sent)
    if refused:
        assert "jobs-proxy: its pages do not answer" in _forbidden(response)
    else:
        assert response.status_code == 200


def test_the_jobs_api_answers_any_origin_as_nick_does(mock: LiveMock, proxy: LiveProxy) -> None:
    """CORS, the upstream's, decides what a page may read: the proxy refuses no origin on the API's paths."""
    response = requests.get(f"{proxy.url}/@jobs", headers={"Origin": "http://attacker.example"})
    assert response.status_code == 401
    assert [call["path"] for call in mock.calls()] == ["/@jobs"]
