"""The runner's options end to end against the test server: safety, read-only, tokens, workers, processes."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from conformance.options import Options
from conformance.phases.schema import groups
from conformance.results import Outcome
from conformance.runner import run
from jobspec import load_spec
from tests import brokenjobs
from tests.fakejobs import Violation, check, serve
from tests.helpers import processes


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


def test_processes__helpers_share_the_schema_phase_and_their_findings_reach_the_report() -> None:
    with serve(Violation.WRONG_CONTENT_TYPE) as server:
        lines: list[str] = []
        options = Options(base_url=server.url, fixtures="mock", max_examples=5, seed=1, timeout=3, phases=("schema",))
        shared = run(dataclasses.replace(options, processes=2), lines.append)
        alone = check(server.url, "schema", processes=1)
    assert shared.exit_code == alone.exit_code == 1
    failed = {(r.name, r.subject) for r in shared.results if r.outcome is Outcome.FAILED}
    assert ("content_type_conformance", "GET /@jobs/{id}") in failed
    assert failed == {(r.name, r.subject) for r in alone.results if r.outcome is Outcome.FAILED}
    finding = next(r for r in shared.results if r.subject == "GET /@jobs/{id}" and r.outcome is Outcome.FAILED)
    assert finding.findings and "curl" in finding.findings[0].curl
    # Every operation ran, each path's in a helper that reported it in one line, and the stateful phase too.
    assert "schema: schemathesis, 5 examples per operation, seed 1, 2 processes" in lines
    reported = set()
    for line in lines:
        if match := re.fullmatch(r"schemathesis ([A-Z/]+) (\S+): examples \w+, coverage \w+, fuzzing \w+", line):
            reported |= {f"{method} {match[2]}" for method in match[1].split("/")}
    assert reported == set(groups(load_spec()))
    assert any(line.startswith("schemathesis stateful: ") for line in lines)


def test_processes__a_defect_of_a_path_counts_once_as_in_one_process() -> None:
    # 405 answers without Allow: schemathesis probes each path once with the methods it does not document.
    with brokenjobs.serve(brokenjobs.Breakage.STRIP_ALLOW) as server:
        options = Options(base_url=server.url, max_examples=5, seed=1, timeout=3, phases=("schema",))
        shared = run(dataclasses.replace(options, processes=2))
        alone = run(dataclasses.replace(options, processes=1))
    failed = {(r.name, r.subject, len(r.findings)) for r in shared.results if r.outcome is Outcome.FAILED}
    assert ("unsupported_method", "GET /@jobs/{id}", 1) in failed
    assert failed == {(r.name, r.subject, len(r.findings)) for r in alone.results if r.outcome is Outcome.FAILED}


def test_processes__a_helper_that_dies_ends_the_run_as_an_error() -> None:
    with serve() as server, ThreadPoolExecutor(1) as pool:
        running = pool.submit(check, server.url, "schema", processes=2, max_examples=500)
        helper = _helper_pid(deadline=time.monotonic() + 30)
        os.kill(helper, signal.SIGKILL)
        report = running.result(timeout=120)
    assert report.exit_code == 2
    assert "a helper process of the schema phase died" in report.error
    assert "--processes 1" in report.error


def _helper_pid(deadline: float) -> int:
    """A helper of the schema phase: a child of the forkserver this process started."""
    while time.monotonic() < deadline:
        servers = [pid for pid in _children(os.getpid()) if b"forkserver" in _cmdline(pid)]
        grandchildren = [pid for server in servers for pid in _children(server)]
        if grandchildren:
            return grandchildren[0]
        time.sleep(0.05)
    raise AssertionError("no helper process appeared")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _children(pid: int) -> list[int]:
    return [child for child, (parent, _) in processes().items() if parent == pid]
