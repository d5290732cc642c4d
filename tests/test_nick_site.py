"""The example Nick site (examples/nick-site) on real Nick 2.8.0: its jobs API answers as the contract says.

Real HTTP against a RealNick (tests/nick.py) with the site's route and worker, jobs made by the site's
make-job. Skipped with the reason when real Nick cannot run here (no archive, PostgreSQL or pnpm), except
under CI=true, where that is a broken install step and fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.helpers import assert_invariants
from tests.nick import EDITOR, MAKE_JOB, NickUnavailable, RealNick

REQUIRED = os.environ.get("CI") == "true"
FIELDS = {"uuid", "title", "description", "params", "actor", "created", "started", "finished", "status", "result"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NOT_FOUND = {"error": "Not found."}
UNAUTHORIZED = {"message": "You are not authorized to access this resource."}
STATES = ["created", "running", "completed", "failed", "aborted"]
# The lifecycle's edges the worker and the API may take (the contract's table).
EDGES = {("created", "running"), ("running", "completed"), ("running", "failed"), ("running", "aborted")}
NON_UUID = "not-a-uuid"


def started(factory: Callable[[], RealNick]) -> Iterator[RealNick]:
    """A started RealNick for a fixture; a missing prerequisite skips (fails under CI=true)."""
    nick = factory()
    try:
        nick.start()
    except NickUnavailable as exc:
        nick.stop()
        if REQUIRED:
            pytest.fail(f"real Nick is required under CI=true: {exc}")
        pytest.skip(f"real Nick unavailable: {exc}")
    except BaseException:
        nick.stop()
        raise
    try:
        yield nick
    finally:
        nick.stop()


@pytest.fixture(scope="module")
def nick() -> Iterator[RealNick]:
    """Real Nick with the site's jobs route and worker."""
    yield from started(lambda: RealNick(jobs=True))


@pytest.fixture(scope="module")
def stock() -> Iterator[RealNick]:
    """Stock Nick 2.8.0: no jobs route."""
    yield from started(lambda: RealNick(jobs=False))


def session(token: str) -> requests.Session:
    """A session sending the token."""
    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture(scope="module")
def admin(nick: RealNick) -> Iterator[requests.Session]:
    """Logged in as admin, who may manage jobs."""
    with session(nick.login()) as client:
        yield client


@pytest.fixture(scope="module")
def editor(nick: RealNick) -> Iterator[requests.Session]:
    """Logged in as editor (role Editor), who may not."""
    with session(nick.login(*EDITOR)) as client:
        yield client


def get_job(nick: RealNick, admin: requests.Session, job_id: str) -> dict[str, Any]:
    """GET /@jobs/{id}, asserting 200 JSON."""
    response = admin.get(f"{nick.url}/@jobs/{job_id}")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def listed(nick: RealNick, admin: requests.Session) -> dict[str, dict[str, Any]]:
    """GET /@jobs as uuid -> job, asserting a 200 JSON array."""
    response = admin.get(f"{nick.url}/@jobs")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    jobs = response.json()
    assert isinstance(jobs, list)
    return {job["uuid"]: job for job in jobs}


def assert_consistent(job: dict[str, Any]) -> None:
    """Every field, Nick's timestamp form, and the contract's invariants."""
    assert FIELDS <= set(job), job
    for field in ("created", "started", "finished"):
        assert job[field] is None or TIMESTAMP.match(job[field]), (field, job[field])
    assert isinstance(job["params"], dict) and isinstance(job["result"], dict)
    assert_invariants(job)


def test_admin_lists_jobs(nick: RealNick, admin: requests.Session) -> None:
    """GET /@jobs: a JSON array holding every job with all its fields, and no @id (as the documentation's list)."""
    job_id = nick.make_job("created")
    jobs = listed(nick, admin)
    assert job_id in jobs
    assert set(jobs[job_id]) == FIELDS
    for job in jobs.values():
        assert_consistent(job)


@pytest.mark.parametrize("state", STATES)
def test_make_job_makes_a_consistent_job(nick: RealNick, admin: requests.Session, state: str) -> None:
    """make-job STATE: GET shows a job in that state, consistent, with @id; the list agrees."""
    job_id = nick.make_job(state)
    job = get_job(nick, admin, job_id)
    assert job["@id"] == f"{nick.url}/@jobs/{job_id}"
    assert job["uuid"] == job_id
    assert job["status"] == state
    assert job["actor"] == "admin"
    assert_consistent(job)
    if state in ("created", "running"):
        assert job["result"] == {}
    assert {k: v for k, v in job.items() if k != "@id"} == listed(nick, admin)[job_id]


def test_worker_leaves_held_jobs(nick: RealNick, admin: requests.Session) -> None:
    """A job make-job holds stays as it is across worker ticks."""
    jobs = {job_id: get_job(nick, admin, job_id) for job_id in map(nick.make_job, STATES)}
    time.sleep(2.5)  # more than two ticks of the worker (every second)
    assert {job_id: get_job(nick, admin, job_id) for job_id in jobs} == jobs


def test_make_job_refuses(nick: RealNick) -> None:
    """make-job exits non-zero with a reason: a bad state (2), a fast job not starting as created (2), no database (1)."""
    env = {**os.environ, **nick.database.env}
    env.pop("JOBS_CONFORMANCE_OUTCOME", None)
    cases = [
        (["paused"], {}, 2, "usage: make-job STATE"),
        (["running"], {"JOBS_CONFORMANCE_OUTCOME": "failed"}, 2, "starts as created"),
        (["created"], {"JOBS_CONFORMANCE_OUTCOME": "aborted"}, 2, "JOBS_CONFORMANCE_OUTCOME must be one of"),
        (["created"], {"DB_NAME": f"{nick.database.name}_missing"}, 1, "does not exist"),
    ]
    for args, extra, code, reason in cases:
        run = subprocess.run([str(MAKE_JOB), *args], env={**env, **extra}, capture_output=True, text=True, check=False)
        assert (run.returncode, run.stdout) == (code, ""), (args, extra, run.stderr)
        assert reason in run.stderr, (args, extra, run.stderr)


def test_abort_running_job(nick: RealNick, admin: requests.Session) -> None:
    """Abort of a running job: 204 with no body, then aborted with `finished` set."""
    job_id = nick.make_job("running")
    before = get_job(nick, admin, job_id)
    response = admin.post(f"{nick.url}/@jobs/{job_id}/abort")
    assert response.status_code == 204, response.text
    assert response.content == b""
    after = get_job(nick, admin, job_id)
    assert after["status"] == "aborted"
    assert after["finished"] is not None and after["finished"] >= after["started"]
    assert_consistent(after)
    unchanged = ("uuid", "title", "description", "params", "actor", "created", "started", "result")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}


@pytest.mark.parametrize("state", ["completed", "created", "failed", "aborted"])
def test_abort_refused_unless_running(nick: RealNick, admin: requests.Session, state: str) -> None:
    """Abort of a job that is not running: 400 with the exact body, and the job exactly as it was."""
    job_id = nick.make_job(state)
    before = get_job(nick, admin, job_id)
    response = admin.post(f"{nick.url}/@jobs/{job_id}/abort")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": f"Job {job_id} is {state}; only a running job can be aborted."}
    assert get_job(nick, admin, job_id) == before


def test_retry_failed_job(nick: RealNick, admin: requests.Session) -> None:
    """Retry of a failed job: 204, then created with started, finished null and result {}."""
    job_id = nick.make_job("failed")
    before = get_job(nick, admin, job_id)
    response = admin.post(f"{nick.url}/@jobs/{job_id}/retry")
    assert response.status_code == 204, response.text
    assert response.content == b""
    after = get_job(nick, admin, job_id)
    assert (after["status"], after["started"], after["finished"], after["result"]) == ("created", None, None, {})
    assert after["created"] == before["created"]
    assert_consistent(after)


@pytest.mark.parametrize("state", ["running", "created", "completed", "aborted"])
def test_retry_refused_unless_failed(nick: RealNick, admin: requests.Session, state: str) -> None:
    """Retry of a job that is not failed: 400 with the exact body, and the job exactly as it was."""
    job_id = nick.make_job(state)
    before = get_job(nick, admin, job_id)
    response = admin.post(f"{nick.url}/@jobs/{job_id}/retry")
    assert response.status_code == 400
    assert response.json() == {"error": f"Job {job_id} is {state}; only a failed job can be retried."}
    assert get_job(nick, admin, job_id) == before


def test_delete_job(nick: RealNick, admin: requests.Session) -> None:
    """DELETE: 204 with no body; then GET, DELETE, abort, retry answer 404 and the list lacks the job."""
    job_id = nick.make_job("running")
    response = admin.delete(f"{nick.url}/@jobs/{job_id}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    for method, path in [
        ("GET", f"/@jobs/{job_id}"),
        ("DELETE", f"/@jobs/{job_id}"),
        ("POST", f"/@jobs/{job_id}/abort"),
        ("POST", f"/@jobs/{job_id}/retry"),
    ]:
        gone = admin.request(method, f"{nick.url}{path}")
        assert (gone.status_code, gone.json()) == (404, NOT_FOUND), (method, path)
    assert job_id not in listed(nick, admin)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/@jobs/{NON_UUID}"),
        ("DELETE", f"/@jobs/{NON_UUID}"),
        ("POST", f"/@jobs/{NON_UUID}/abort"),
        ("POST", f"/@jobs/{NON_UUID}/retry"),
        ("GET", "/@jobs/a2fe7e07-d54b-435b-9cb0-e12f1f80a589"),  # the documentation's example: no such job here
    ],
)
def test_unknown_id_not_found(nick: RealNick, admin: requests.Session, method: str, path: str) -> None:
    """An unknown id, or one that is not a UUID: 404 {"error": "Not found."}, as Nick's services answer."""
    response = admin.request(method, f"{nick.url}{path}")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == NOT_FOUND


def operations(job_id: str) -> list[tuple[str, str]]:
    """Every jobs operation on one job."""
    return [
        ("GET", "/@jobs"),
        ("GET", f"/@jobs/{job_id}"),
        ("DELETE", f"/@jobs/{job_id}"),
        ("POST", f"/@jobs/{job_id}/abort"),
        ("POST", f"/@jobs/{job_id}/retry"),
    ]


def test_editor_forbidden(nick: RealNick, admin: requests.Session, editor: requests.Session) -> None:
    """A user with the role Editor may not manage jobs: 403 from Nick's handler on every operation."""
    job_id = nick.make_job("running")
    for method, path in operations(job_id):
        response = editor.request(method, f"{nick.url}{path}")
        assert (response.status_code, response.json()) == (403, UNAUTHORIZED), (method, path)
    assert get_job(nick, admin, job_id)["status"] == "running"


def test_no_token_unauthorized(nick: RealNick, admin: requests.Session) -> None:
    """No token, or a token Nick did not issue: 401 from Nick's handler on every operation."""
    job_id = nick.make_job("failed")
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl"
    for headers in ({}, {"Authorization": f"Bearer {forged}"}):
        for method, path in operations(job_id):
            response = requests.request(method, f"{nick.url}{path}", headers=headers, timeout=30)
            assert (response.status_code, response.json()) == (401, UNAUTHORIZED), (method, path, headers)
    assert get_job(nick, admin, job_id)["status"] == "failed"


@pytest.mark.parametrize("outcome", ["failed", "completed"])
def test_worker_runs_job_to_outcome(nick: RealNick, admin: requests.Session, outcome: str) -> None:
    """With JOBS_CONFORMANCE_OUTCOME the worker starts the job soon and ends it so; each observation keeps the rules."""
    job_id = nick.make_job("created", outcome=outcome)
    seen = [get_job(nick, admin, job_id)]
    assert seen[0]["status"] in ("created", "running", outcome)
    deadline = time.monotonic() + 15
    while seen[-1]["status"] != outcome and time.monotonic() < deadline:
        time.sleep(0.2)
        seen.append(get_job(nick, admin, job_id))
    assert seen[-1]["status"] == outcome, [job["status"] for job in seen]
    statuses = [job["status"] for job in seen]
    for before, after in zip(statuses, statuses[1:], strict=False):
        assert before == after or (before, after) in EDGES or (before, after) == ("created", outcome), statuses
    for job in seen:
        assert_consistent(job)
        assert {k: job[k] for k in ("uuid", "created", "params")} == {
            k: seen[0][k] for k in ("uuid", "created", "params")
        }
    result = seen[-1]["result"]
    assert result == ({"error": "Job failed."} if outcome == "failed" else {"message": "Job completed."})


def test_stock_nick_has_no_jobs(stock: RealNick) -> None:
    """Stock Nick 2.8.0 has no jobs API: GET /@jobs is its unknown-path 404."""
    with session(stock.login()) as admin:
        response = admin.get(f"{stock.url}/@jobs")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found: /@jobs"}
