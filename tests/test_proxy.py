"""jobs-proxy in front of real servers on loopback: the mock (no violations) and broken servers (each break named).

Between the proxy and its upstream sits a tap that keeps every byte the upstream sent: what the
client received must be exactly that (status, end-to-end headers, body as encoded).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from conformance.options import Options
from conformance.runner import run
from jobsproxy.testing import LiveProxy
from mockserver.config import MockConfig
from mockserver.testing import LiveMock
from tests.fakejobs import FORBIDDEN_USER, Violation, serve
from tests.tap import Tap
from tests.traffic import Client, frontend_session

V = Violation
WATCH = 1.0  # seconds the session polls the list: a moving job ends, and a broken worker moves it back


@contextmanager
def tapped(upstream: str) -> Iterator[tuple[LiveProxy, Tap]]:
    """A proxy in front of `upstream`, with a tap between them."""
    with Tap(int(upstream.rsplit(":", 1)[1])) as tap, LiveProxy(tap.url) as proxy:
        yield proxy, tap


def checks_of(violations: list[dict[str, Any]]) -> set[str]:
    return {violation["check"] for violation in violations}


def assert_passed_through(client: Client, tap: Tap) -> None:
    """Every answer the client got is one the upstream sent, byte for byte (as many, and the same)."""
    assert sorted(client.answers, key=repr) == sorted(tap.answers(), key=repr)


# ---- in front of the mock: no violations ----------------------------------------------------


def test_mock__a_frontend_session_shows_no_violations_and_passes_through_unchanged(mock: LiveMock) -> None:
    with tapped(mock.url) as (proxy, tap):
        client = frontend_session(proxy.url)
        mock.control("POST", "clock/advance", {"seconds": 120})  # the worker moves the queued jobs on
        client.token = client.call("POST", "/@login", body={"login": "admin", "password": "admin"}, token=None)["token"]
        client.jobs()
        assert proxy.violations() == []
        report = proxy.report()

    assert_passed_through(client, tap)
    assert report.verdict().startswith(f"NO VIOLATIONS in {len(client.answers)} exchanges")
    assert set(report.calls) == {
        "getJobs",
        "getJob",
        "login",
        "renewLogin",
        "abortJob",
        "retryJob",
        "deleteJob",
        "logout",
    }
    matrix = report.matrix()
    covered = {(state, column) for state, row in matrix.items() for column, mark in row.items() if mark == "pass"}
    assert {("running", "abortJob"), ("created", "abortJob"), ("failed", "retryJob"), ("created", "worker")} <= covered
    assert not any(mark == "FAIL" for row in matrix.values() for mark in row.values())
    # The client's own mistakes (a login form without a password, a broken one) are notes, not violations.
    notes = [entry["message"] for entry in report.journal if entry["kind"] == "note"]
    assert len(notes) == 2 and all("the client's request departs from the spec" in note for note in notes)


def test_mock__the_conformance_suite_through_the_proxy_finds_nothing_and_neither_does_the_proxy() -> None:
    """Every operation, every cell, fuzzing too: a running worker (real clock), so the worker's cells show."""
    with LiveMock(config=MockConfig(seed=3)) as mock, LiveProxy(mock.url) as proxy:
        suite = run(Options(base_url=proxy.url, fixtures="mock", seed=3, max_examples=10, timeout=3))
        report = proxy.report()

    assert suite.verdict().startswith("CONFORMANT: "), suite.verdict()
    assert report.violations == 0, report.journal
    assert report.exchanges > 200
    assert {mark for row in report.matrix().values() for mark in row.values()} == {"pass", ""}, report.matrix()


def test_mock__a_page_polling_the_list_while_jobs_are_aborted_shows_no_violations(mock: LiveMock) -> None:
    held = {"mock": {"duration": 86400}}
    running = [mock.control("POST", "jobs", {"status": "running", "params": held})["uuid"] for _ in range(6)]
    with LiveProxy(mock.url) as proxy:
        poller, actor = Client(proxy.url), Client(proxy.url)
        token = poller.call("POST", "/@login", body={"login": "admin", "password": "admin"}, token=None)["token"]
        poller.token = actor.token = token
        stop = time.monotonic() + 1.0
        polling = threading.Thread(target=lambda: [poller.jobs() for _ in iter(lambda: time.monotonic() < stop, False)])
        polling.start()
        for job_id in running:
            actor.call("POST", f"/@jobs/{job_id}/abort")
            actor.call("GET", f"/@jobs/{job_id}")
            time.sleep(0.1)
        polling.join()
        assert proxy.violations() == []
        assert proxy.report().matrix()["running"]["abortJob"] == "pass"


# ---- in front of broken servers: each break named, the answer unchanged -----------------------

BROKEN = [
    pytest.param(V.MISSING_FIELD, "documented_answer", id="missing-field"),
    pytest.param(V.WRONG_STATUS, "documented_answer", id="wrong-status-code"),
    pytest.param(V.ACCEPTED_REFUSAL, "job_state_fields", id="accepted-refused-transition"),
    pytest.param(V.RETRY_NO_RESET, "job_state_fields", id="retry-does-not-reset"),
    pytest.param(V.DELETE_KEEPS, "deletion_is_final", id="delete-does-not-delete"),
    pytest.param(V.MISSING_AUTH, "auth_no_token", id="missing-auth"),
    pytest.param(V.SERVER_ERROR, "documented_answer", id="500-on-bad-input"),
    pytest.param(V.BROKEN_INVARIANT, "job_state_fields", id="broken-invariant"),
    pytest.param(V.WRONG_CONTENT_TYPE, "documented_answer", id="wrong-content-type"),
    pytest.param(V.LIST_DISAGREES, "job_immutable_fields", id="list-disagrees-with-get"),
    pytest.param(V.REFUSAL_409, "documented_answer", id="refusal-answers-409"),
    pytest.param(V.WORKER_BACKWARDS, "job_follows_lifecycle", id="worker-steps-backwards"),
    pytest.param(V.LOGOUT_KEEPS_TOKEN, "logout_ends_the_session", id="logout-keeps-the-token"),
    pytest.param(V.RENEWED_TOKEN_REFUSED, "renewed_token_works", id="renewed-token-refused"),
    pytest.param(V.NOT_FOUND_SHAPE, "documented_answer", id="404-shape"),
    pytest.param(V.REFUSAL_TYPED, "documented_answer", id="refusal-typed-shape"),
    pytest.param(V.WRONG_PASSWORD_400, "documented_answer", id="wrong-password-400"),
    pytest.param(V.MISSING_FIELD_401, "malformed_request_refused", id="missing-field-401"),
    pytest.param(V.ID_WITHOUT_PREFIX, "item_names_its_url", id="id-names-another-address"),
    pytest.param(V.JUMPS_BACKWARDS, "job_follows_lifecycle", id="failed-job-runs-again"),
    pytest.param(V.RESURRECTED, "deletion_is_final", id="deleted-job-comes-back"),
    pytest.param(V.TIMESTAMP_BACKWARDS, "timestamps_never_go_back", id="started-goes-back"),
    pytest.param(V.ABORT_IGNORED, "transition_result", id="abort-answers-204-job-runs-on"),
]
MOVING = {V.WORKER_BACKWARDS, V.JUMPS_BACKWARDS, V.RESURRECTED}  # breaks that show while the page polls


@pytest.mark.parametrize(("violation", "check"), BROKEN)
def test_broken_server__the_break_is_named_and_the_answers_pass_through_unchanged(
    violation: Violation, check: str
) -> None:
    with serve(violation) as server, tapped(server.url) as (proxy, tap):
        client = frontend_session(proxy.url, watch=WATCH if violation in MOVING else 0)
        violations = proxy.violations()

    assert check in checks_of(violations), violations
    assert_passed_through(client, tap)
    first = next(v for v in violations if v["check"] == check)
    assert first["message"].startswith("Received") and " / Documented" in first["message"]
    assert first["request"]["url"].startswith(tap.url) and first["curl"].startswith("curl ")


def test_conformant_server__the_same_session_shows_no_violations() -> None:
    with serve() as server, tapped(server.url) as (proxy, tap):
        client = frontend_session(proxy.url, watch=WATCH)
        assert proxy.violations() == []
        matrix = proxy.report().matrix()
    assert_passed_through(client, tap)
    assert matrix["created"]["worker"] == matrix["running"]["worker"] == "pass"


def test_broken_server__a_user_who_may_not_manage_jobs_is_beyond_the_proxy() -> None:
    """The proxy does not know who may manage jobs: a 200 for such a user is no violation it can see."""
    with serve(V.FORBIDDEN_ALLOWED) as server, LiveProxy(server.url) as proxy:
        client = Client(proxy.url)
        editor = {"login": FORBIDDEN_USER[0], "password": FORBIDDEN_USER[1]}
        client.token = client.call("POST", "/@login", body=editor, token=None)["token"]
        assert client.jobs() != []
        assert proxy.violations() == []


def test_violations__are_printed_one_line_each_with_the_request_and_tokens_masked() -> None:
    lines: list[str] = []
    with serve(V.LOGOUT_KEEPS_TOKEN) as server, LiveProxy(server.url, echo=lines.append) as proxy:
        client = frontend_session(proxy.url)
        journal = json.dumps(proxy.report().journal)

    assert [line for line in lines if line.startswith("VIOLATION")] == [
        f"VIOLATION logout_ends_the_session [getJobs]: GET {server.url}/@jobs -> 200: "
        "Received 200 for getJobs with a token after logout answered 204 / Documented: 401"
    ]
    assert [line.split(": ", 1)[0] for line in lines if line.startswith("note")] == ["note"] * 2
    tokens = [json.loads(body)["token"] for _, _, body in client.answers if body.startswith(b'{"token"')]
    assert len(tokens) == 2 and client.token in tokens
    assert all(token not in line for line in lines for token in tokens)
    assert client.token not in journal and "Bearer $JOBS_TOKEN" in journal


def test_live_page__html_and_json_under_their_own_prefix_never_forwarded() -> None:
    with serve(V.ABORT_IGNORED) as server, LiveProxy(server.url) as proxy:
        frontend_session(proxy.url)
        proxy.settle()
        page = requests.get(f"{proxy.url}/__proxy__/")
        violations = requests.get(f"{proxy.url}/__proxy__/violations").json()
        later = requests.get(f"{proxy.url}/__proxy__/violations", params={"since": violations[0]["seq"]}).json()
        summary = requests.get(f"{proxy.url}/__proxy__/summary").json()
        report = requests.get(f"{proxy.url}/__proxy__/report").json()
        bare = requests.get(f"{proxy.url}/__proxy__", allow_redirects=False)
        unknown = requests.get(f"{proxy.url}/__proxy__/nothing")
        bad = requests.get(f"{proxy.url}/__proxy__/violations", params={"since": "x"})
        forwarded = [entry for entry in server.journal if entry[1].startswith("/__proxy__")]

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "jobs-proxy – live view" in page.text
    assert violations and {v["check"] for v in violations} == {"transition_result"}
    assert later == violations[1:]
    assert summary["violations"] == len(violations) and summary["upstream"] == server.url
    assert "NO VIOLATIONS" not in summary["verdict"] and "checks" not in summary
    assert report["violations"] == violations and report["calls"]["abortJob"]["204"] >= 1
    assert (bare.status_code, bare.headers["Location"]) == (302, "/__proxy__/")
    assert unknown.status_code == 404 and "/__proxy__/violations" in unknown.json()["message"]
    assert bad.status_code == 400
    assert forwarded == []
