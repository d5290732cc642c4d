"""Isolated sessions over loopback HTTP: header and path prefix, control API, limits, copy-on-write."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.http.sessions import SESSIONS
from mockserver.testing import LiveMock, MockSession
from tests.conftest import DOCUMENTED_ID
from tests.helpers import HOLD, LIFECYCLE

FIELD = LIFECYCLE.status_field
INITIAL = LIFECYCLE.initial
STARTING_JOBS = 7


def _error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert set(body) == {"type", "message"}
    return body


def _ids(session: requests.Session, url: str, **headers: str) -> set[str]:
    response = session.get(f"{url}/@jobs", headers=headers)
    assert response.status_code == 200, response.text
    return {job["uuid"] for job in response.json()}


@pytest.fixture
def tight() -> Iterator[LiveMock]:
    """A mock holding at most 2 sessions, each forgotten after 0.3 s unused."""
    with LiveMock(config=MockConfig(max_sessions=2, session_idle=0.3)) as server:
        yield server


def test_header_and_prefix_each_see_only_their_own_changes(admin: requests.Session, mock: LiveMock) -> None:
    one, two = mock.session("one"), mock.session()
    assert admin.delete(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers=one.headers).status_code == 204
    assert DOCUMENTED_ID not in _ids(admin, one.url)  # the prefix and the header name the same session
    assert DOCUMENTED_ID not in _ids(admin, mock.url, **one.headers)
    assert DOCUMENTED_ID in _ids(admin, two.url)
    assert DOCUMENTED_ID in _ids(admin, mock.url)  # no session named: the shared state, untouched
    job = admin.get(f"{two.url}/@jobs/{DOCUMENTED_ID}").json()
    assert job["@id"] == f"{two.url}/@jobs/{DOCUMENTED_ID}"  # the URL it was read by, prefix included
    assert next(s for s in mock.control("GET", "sessions")["sessions"] if s["name"] == "one") == {
        "name": "one",
        "jobs": STARTING_JOBS - 1,
        "shared": False,
        "idle": pytest.approx(0, abs=5),
    }


def test_control_api_clock_faults_journal_are_per_session(admin: requests.Session, mock: LiveMock) -> None:
    one, two = mock.session(), mock.session()
    made = one.control("POST", "jobs", {FIELD: INITIAL, "params": {"mock": {"delay": 10, "duration": 86400}}})
    assert made["uuid"] in _ids(admin, one.url) and made["uuid"] not in _ids(admin, two.url)
    before = two.control("GET", "clock")["now"]
    one.control("POST", "clock/advance", {"seconds": 20})
    assert admin.get(f"{one.url}/@jobs/{made['uuid']}").json()[FIELD] != INITIAL  # the worker moved it there only
    assert two.control("GET", "clock")["now"][:16] == before[:16]
    one.control("POST", "faults", {"operation": "getJobs", "status": 503})
    assert admin.get(f"{one.url}/@jobs").status_code == 503
    assert admin.get(f"{two.url}/@jobs").status_code == 200 and admin.get(f"{mock.url}/@jobs").status_code == 200
    assert two.control("GET", "faults") == []
    paths = [entry["path"] for entry in two.control("GET", "journal") if entry["operationId"]]
    assert paths == [f"/__session/{two.name}/@jobs", f"/__session/{two.name}/@jobs"]  # none of one's requests
    assert all(entry["path"] != f"/__session/{one.name}/@jobs" for entry in mock.control("GET", "journal"))


def test_control_api_through_the_prefix(admin: requests.Session, mock: LiveMock) -> None:
    one = mock.session()
    moved = requests.post(f"{one.url}/__mock__/jobs/{DOCUMENTED_ID}/move", json={FIELD: "running"}, timeout=10)
    assert moved.status_code == 200, moved.text
    assert admin.get(f"{one.url}/@jobs/{DOCUMENTED_ID}").json()[FIELD] == "running"
    assert admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}").json()[FIELD] == INITIAL
    # The control API's own rules hold under the prefix too: JSON bodies only, no foreign pages.
    assert _error(requests.post(f"{one.url}/__mock__/reset", data="x", timeout=10), 415)
    foreign = requests.post(f"{one.url}/__mock__/reset", json={}, headers={"Origin": "http://evil.test"}, timeout=10)
    assert _error(foreign, 403)
    assert requests.post(f"{one.url}/__mock__/reset", json={}, timeout=10).status_code == 204
    assert admin.get(f"{one.url}/@jobs/{DOCUMENTED_ID}").json()[FIELD] == INITIAL
    page = requests.get(f"{one.url}/__mock__/", timeout=10)
    assert page.status_code == 200 and "fetch(path," in page.text  # relative: the live view keeps the prefix
    undeclared = admin.put(f"{one.url}/@jobs")  # Nick's 404 naming the path without the session's prefix
    assert (undeclared.status_code, undeclared.json()) == (404, {"error": "Not found: /@jobs"})
    assert "Allow" not in undeclared.headers
    unknown = requests.get(f"{mock.url}/nowhere", headers=one.headers, timeout=10)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Not found: /nowhere"})


def test_an_unknown_path_under_the_session_prefix_is_named_without_the_prefix(mock: LiveMock) -> None:
    one = mock.session()
    response = requests.get(f"{one.url}/nowhere", timeout=10)
    assert (response.status_code, response.json()) == (404, {"error": "Not found: /nowhere"})


def test_a_session_of_a_server_on_a_manual_clock_starts_at_the_servers_time() -> None:
    # Sessions made a while apart on a hand-driven clock see the same time, and the same starting jobs: none aged.
    with LiveMock(clock=Clock(manual=True)) as server:
        first = server.session()
        time.sleep(1.2)
        second = server.session()
        times = {
            requests.get(f"{url}/__mock__/clock", timeout=10).json()["now"]
            for url in (server.url, first.url, second.url)
        }
        assert len(times) == 1, times
        jobs = [requests.get(f"{url}/__mock__/jobs", timeout=10).json() for url in (first.url, second.url)]
    assert jobs[0] == jobs[1]


def test_logout_ends_a_token_only_in_its_session(mock: LiveMock) -> None:
    one = mock.session()
    token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}, timeout=10).json()
    bearer = {"Authorization": f"Bearer {token['token']}"}
    assert requests.post(f"{one.url}/@logout", headers=bearer, timeout=10).status_code == 204
    assert requests.get(f"{one.url}/@jobs", headers=bearer, timeout=10).status_code == 401
    assert requests.get(f"{mock.url}/@jobs", headers=bearer, timeout=10).status_code == 200


def test_created_with_jobs_reset_list_delete(admin: requests.Session, mock: LiveMock) -> None:
    jobs = [{"uuid": "11111111-2222-4333-8444-555555555555", "title": "Only", FIELD: INITIAL, "params": HOLD}]
    own = mock.session("own", jobs=jobs)
    assert _ids(admin, own.url) == {jobs[0]["uuid"]}
    assert admin.delete(f"{own.url}/@jobs/{jobs[0]['uuid']}").status_code == 204
    assert _ids(admin, own.url) == set()
    own.reset()
    assert _ids(admin, own.url) == {jobs[0]["uuid"]}  # back to the jobs it was created with
    listed = mock.control("GET", "sessions")
    assert "own" in [s["name"] for s in listed["sessions"]] and listed["maxSessions"] == 1000
    own.delete()
    assert "own" not in [s["name"] for s in mock.control("GET", "sessions")["sessions"]]
    gone = requests.post(f"{mock.url}/__mock__/sessions/own/reset", json={}, timeout=10)
    assert "No session 'own'" in _error(gone, 404)["message"]
    assert _error(requests.delete(f"{mock.url}/__mock__/sessions/own", timeout=10), 404)


def test_bad_names_and_bodies_are_400s(admin: requests.Session, mock: LiveMock) -> None:
    for name in ("", "a b", "x" * 65, "ü", "a/b"):
        error = _error(admin.get(f"{mock.url}/@jobs", headers={"X-Mock-Session": name}), 400)
        assert "is not a session name" in error["message"]
    assert "not a session name" in _error(admin.get(f"{mock.url}/__session/a%20b/@jobs"), 400)["message"]
    for body in ({"name": 3}, {"name": "ok", "jobs": {}}, {"name": "ok", "other": 1}, {}):
        assert _error(requests.post(f"{mock.url}/__mock__/sessions", json=body, timeout=10), 400)
    bad_jobs = {"name": "ok", "jobs": [{"title": 5}]}
    assert (
        "jobs: job 0"
        in _error(requests.post(f"{mock.url}/__mock__/sessions", json=bad_jobs, timeout=10), 400)["message"]
    )
    inconsistent = {"name": "ok", "jobs": [{FIELD: "no-such-state"}]}
    assert _error(requests.post(f"{mock.url}/__mock__/sessions", json=inconsistent, timeout=10), 400)
    mock.session("twice")
    exists = requests.post(f"{mock.url}/__mock__/sessions", json={"name": "twice"}, timeout=10)
    assert "exists already" in _error(exists, 409)["message"]
    assert "ok" not in [s["name"] for s in mock.control("GET", "sessions")["sessions"]]


def test_the_limit_is_a_503_naming_it_and_idle_sessions_expire(tight: LiveMock) -> None:
    tight.session("a"), tight.session("b")
    refused = requests.post(f"{tight.url}/__mock__/reset", headers={"X-Mock-Session": "c"}, json={}, timeout=10)
    error = _error(refused, 503)
    assert error["type"] == "Too many sessions" and "--max-sessions 2" in error["message"]
    assert refused.headers["Retry-After"] == "1"  # the oldest session is idle for at most 0.3 s more
    time.sleep(0.4)
    assert requests.post(f"{tight.url}/__mock__/reset", headers={"X-Mock-Session": "c"}, json={}, timeout=10).ok
    assert [s["name"] for s in tight.control("GET", "sessions")["sessions"]] == ["c"]  # a and b expired


def test_starting_data_is_shared_until_a_session_changes_it(admin: requests.Session, mock: LiveMock) -> None:
    one, two = mock.session(), mock.session()
    assert len(_ids(admin, one.url)) == STARTING_JOBS and len(_ids(admin, two.url)) == STARTING_JOBS
    sessions = mock.app[SESSIONS]
    starting = sessions.starting().store.jobs
    assert sessions.get(one.name).store.jobs is starting and sessions.get(two.name).store.jobs is starting
    assert admin.delete(f"{one.url}/@jobs/{DOCUMENTED_ID}").status_code == 204
    assert sessions.get(one.name).store.jobs is not starting and sessions.get(two.name).store.jobs is starting
    assert len(starting) == STARTING_JOBS  # the shared jobs never change


def test_cors_allows_the_session_header(mock: LiveMock) -> None:
    origin = "http://localhost:3000"
    preflight = requests.options(
        f"{mock.url}/@jobs",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-mock-session",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert "X-Mock-Session" in preflight.headers["Access-Control-Allow-Headers"]
    refused = requests.get(f"{mock.url}/@jobs", headers={"Origin": origin, "X-Mock-Session": "?"}, timeout=10)
    assert refused.status_code == 400 and refused.headers["Access-Control-Allow-Origin"] == origin


def test_mock_session_handle_works_from_a_url_alone(admin: requests.Session, mock: LiveMock) -> None:
    handle = MockSession.create(mock.url, "by-url")
    assert handle.url == f"{mock.url}/__session/by-url" and handle.headers == {"X-Mock-Session": "by-url"}
    assert len(handle.control("GET", "jobs")) == STARTING_JOBS
    handle.delete()


@pytest.mark.parametrize("flag", [["--max-sessions", "0"], ["--session-idle", "0"], ["--session-idle", "x"]])
def test_cli_refuses_bad_limits(flag: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "--port", "0", *flag], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and flag[0] in done.stderr, done.stderr


def test_a_foreign_host_starts_no_session(mock: LiveMock) -> None:
    refused = requests.get(
        f"{mock.url}/__mock__/jobs", headers={"Host": "evil.test", "X-Mock-Session": "rebound"}, timeout=10
    )
    assert _error(refused, 403)
    assert "rebound" not in [s["name"] for s in mock.control("GET", "sessions")["sessions"]]


def test_a_session_prefix_inside_a_session_prefix_names_no_path_and_changes_nothing(mock: LiveMock) -> None:
    victim = mock.session("victim")
    before = [(s["name"], s["jobs"], s["shared"]) for s in mock.control("GET", "sessions")["sessions"]]
    assert ("victim", STARTING_JOBS, True) in before
    for tail in ("faults", "jobs", "clock/advance", "sessions", "reset"):
        attack = requests.post(
            f"{victim.url}/__session/x/__mock__/{tail}",
            headers={"Origin": "http://evil.example", "Content-Type": "text/plain"},
            data='{"operation": "getJobs", "status": 500, "seconds": 9999, "name": "y"}',
            timeout=10,
        )
        assert attack.status_code == 404, (tail, attack.text)
    after = [(s["name"], s["jobs"], s["shared"]) for s in mock.control("GET", "sessions")["sessions"]]
    assert after == before, "no session started or changed (no session x, victim's jobs still shared)"
    assert requests.get(f"{victim.url}/__mock__/faults", timeout=10).json() == []


def test_requests_no_other_site_could_not_send_start_no_session() -> None:
    with LiveMock(config=MockConfig(max_sessions=5)) as server:
        for number in range(10):  # a page's <img>, with or without Sec-Fetch-Site; and the jobs API without a token
            requests.get(f"{server.url}/__session/evil{number}/openapi.json", timeout=10)
            requests.get(f"{server.url}/__session/evil{number}/@jobs", timeout=10)
            requests.get(f"{server.url}/@jobs", headers={"X-Mock-Session": f"evil{number}"}, timeout=10)
        login = {"login": "admin", "password": "admin"}
        cross = {"Sec-Fetch-Site": "cross-site"}
        requests.post(f"{server.url}/__session/evil-x/@login", json=login, headers=cross, timeout=10)
        requests.post(f"{server.url}/__session/evil-t/@login", data='{"login": "admin"}', timeout=10)  # no JSON type
        assert server.control("GET", "sessions")["sessions"] == []
        unknown = requests.get(f"{server.url}/__session/evil1/__mock__/jobs", timeout=10)
        assert unknown.status_code == 404 and "No session 'evil1'" in unknown.text
        # What a test run of one's own sends does start one: a login as JSON, or a token the mock holds.
        token = requests.post(f"{server.url}/__session/mine/@login", json=login, timeout=10).json()["token"]
        bearer = {"Authorization": f"Bearer {token}", "X-Mock-Session": "other"}
        assert requests.get(f"{server.url}/@jobs", headers=bearer, timeout=10).status_code == 200
        names = {session["name"] for session in server.control("GET", "sessions")["sessions"]}
    assert names == {"mine", "other"}


def test_a_request_naming_two_sessions_is_refused_naming_both(mock: LiveMock) -> None:
    # Issue 27, item 20: the header's session served with the prefix's URL in @id; the first of two headers won.
    one, two = mock.session(), mock.session()
    token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}, timeout=10).json()
    bearer = {"Authorization": f"Bearer {token['token']}"}
    mixed = requests.get(f"{one.url}/@jobs/{DOCUMENTED_ID}", headers={**bearer, "X-Mock-Session": two.name}, timeout=10)
    error = _error(mixed, 400)
    assert error["type"] == "Bad Request" and ", ".join(sorted([one.name, two.name])) in error["message"]
    parts = urlsplit(mock.url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    connection.putrequest("GET", "/@jobs")
    for name, value in [*bearer.items(), ("X-Mock-Session", one.name), ("X-Mock-Session", two.name)]:
        connection.putheader(name, value)
    connection.endheaders()
    twice = connection.getresponse()
    assert twice.status == 400 and json.loads(twice.read())["error"]["type"] == "Bad Request"
    connection.close()
    same = requests.get(f"{two.url}/@jobs/{DOCUMENTED_ID}", headers={**bearer, "X-Mock-Session": two.name}, timeout=10)
    assert same.status_code == 200 and same.json()["@id"] == f"{two.url}/@jobs/{DOCUMENTED_ID}"


def test_params_mock_outcome_names_only_a_state_the_worker_can_end_a_job_in(mock: LiveMock) -> None:
    refused = requests.post(f"{mock.url}/__mock__/jobs", json={"params": {"mock": {"outcome": "running"}}}, timeout=10)
    assert "is not one of" in _error(refused, 400)["message"]
    for end in LIFECYCLE.worker_ends():
        assert (
            requests.post(f"{mock.url}/__mock__/jobs", json={"params": {"mock": {"outcome": end}}}).status_code == 201
        )
