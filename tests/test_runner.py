"""The runner's options end to end against the test server: safety, read-only, tokens, workers."""

from __future__ import annotations

import requests

from conformance.results import Outcome
from tests.fakejobs import check, serve


def test_default_safety__schemathesis_never_changes_a_job_it_did_not_make() -> None:
    with serve() as server:
        existing = set(server.jobs)
        snapshot = {job_id: dict(job) for job_id, job in server.jobs.items()}
        report = check(server.url, "schema", max_examples=20)
        assert report.exit_code == 0
        assert {job_id: server.jobs.get(job_id) for job_id in existing} == snapshot
        mutations = server.mutations()
    touched = [path for method, path, _ in mutations if any(job_id in path for job_id in existing)]
    assert touched == []
    assert not [(m, p) for m, p, _ in mutations if m in ("DELETE", "PUT", "PATCH") and "{" not in p and p == "/@jobs"]


def test_allow_destructive__schemathesis_acts_on_existing_jobs() -> None:
    with serve() as server:
        existing = set(server.jobs)
        check(server.url, "schema", max_examples=20, allow_destructive=True, fixtures="none")
        touched = [path for method, path, _ in server.mutations() if any(job_id in path for job_id in existing)]
    assert touched


def test_read_only__only_safe_requests_and_login() -> None:
    with serve() as server:
        report = check(server.url, "auth", "schema", "lifecycle", read_only=True, fixtures="none", timeout=0.5)
        mutations = server.mutations()
    assert report.exit_code == 0
    assert {(method, path) for method, path, _ in mutations} == {("POST", "/@login")}


def test_a_given_token_is_used_and_session_operations_are_left_out() -> None:
    with serve() as server:
        token = requests.post(f"{server.url}/@login", json={"login": "admin", "password": "admin"}, timeout=5)
        report = check(server.url, "schema", token=token.json()["token"], login="nobody", password="wrong")
        logouts = [entry for entry in server.journal if entry[1] == "/@logout"]
    assert report.exit_code == 0
    skipped = {r.subject for r in report.results if r.outcome is Outcome.NOT_EXERCISED}
    assert {"POST /@logout", "POST /@login-renew"} <= skipped
    assert logouts == []


def test_two_workers_give_the_same_verdict() -> None:
    with serve() as server:
        report = check(server.url, "schema", workers=2)
    assert report.exit_code == 0
    assert any(r.phase == "schema" and r.outcome is Outcome.PASSED for r in report.results)
