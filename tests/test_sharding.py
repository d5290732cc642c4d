"""Two jobs-mock processes behind nginx hashing on the session: a session's changes are always seen through nginx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from benchmarks import servers
from benchmarks.sharding import Nginx, nginx_path
from tests.conftest import DOCUMENTED_ID, DOCUMENTED_TOKEN

pytestmark = pytest.mark.skipif(nginx_path() is None, reason="nginx is not installed (.ci/run installs it)")
SESSIONS = 16


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[servers.ServerProcess]]]:
    """nginx's URL and the two mocks behind it."""
    with servers.mock(None) as one, servers.mock(None) as two:
        with Nginx([one.base_url, two.base_url], tmp_path_factory.mktemp("nginx")) as proxy:
            yield proxy.url, [one, two]


def _names(mock: servers.ServerProcess) -> set[str]:
    return {session["name"] for session in mock.request("GET", "/__mock__/sessions")["sessions"]}


def test_each_session_always_reaches_its_own_process(sharded: tuple[str, list[servers.ServerProcess]]) -> None:
    url, mocks = sharded
    with requests.Session() as http:
        _check(url, mocks, http)


def _check(url: str, mocks: list[servers.ServerProcess], http: requests.Session) -> None:
    # A token is held by the process that issued it (as a Nick holds its own): each session logs in through its key.
    names = [f"shard-{index}" for index in range(SESSIONS)]
    tokens = {
        name: http.post(f"{url}/__session/{name}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        for name in names
    }

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    for index, name in enumerate(names):
        if index % 2:  # half by the header, half by the path prefix: the same key either way
            sent = {"X-Mock-Session": name, **auth(name)}
            gone = http.delete(f"{url}/@jobs/{DOCUMENTED_ID}", headers=sent, timeout=10)
        else:
            gone = http.delete(f"{url}/__session/{name}/@jobs/{DOCUMENTED_ID}", headers=auth(name), timeout=10)
        assert gone.status_code == 204, gone.text
    for _ in range(3):
        for name in names:
            sent = {"X-Mock-Session": name, **auth(name)}
            by_header = http.get(f"{url}/@jobs/{DOCUMENTED_ID}", headers=sent, timeout=10)
            by_prefix = http.get(f"{url}/__session/{name}/@jobs/{DOCUMENTED_ID}", headers=auth(name), timeout=10)
            assert (by_header.status_code, by_prefix.status_code) == (404, 404), name
        # Without a session nginx may pick either process: the documented token is the one every process holds.
        plain = http.get(f"{url}/@jobs/{DOCUMENTED_ID}", headers={"Authorization": f"Bearer {DOCUMENTED_TOKEN}"})
        assert plain.status_code == 200  # the shared state
    held = [_names(mock) for mock in mocks]
    assert held[0] | held[1] == set(names) and not held[0] & held[1]  # each session on exactly one process
    assert held[0] and held[1]  # and both processes hold some
