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
from conformance.runner import run
from jobspec import load_spec
from tests import brokenjobs
from tests.fakejobs import Violation, check, serve
from tests.helpers import processes
from tests.spec_variants import write_variant
from verdicts.results import Outcome


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


def test_processes__a_defect_of_a_path_counts_once_as_in_one_process(tmp_path: Path) -> None:
    # A copy of the spec promising 405 with `Allow` on /@jobs/{id}, and a server answering 405 without `Allow` there:
    # schemathesis probes the path once with the methods it does not declare.
    spec = write_variant("documented-405", tmp_path)
    with brokenjobs.serve(brokenjobs.Difference.METHODS_405) as server:
        options = Options(base_url=server.url, spec=spec, max_examples=5, seed=1, timeout=3, phases=("schema",))
        shared = run(dataclasses.replace(options, processes=2))
        alone = run(dataclasses.replace(options, processes=1))
    failed = {(r.name, r.subject, len(r.findings)) for r in shared.results if r.outcome is Outcome.FAILED}
    assert ("unsupported_method", "GET /@jobs/{id}", 1) in failed
    assert failed == {(r.name, r.subject, len(r.findings)) for r in alone.results if r.outcome is Outcome.FAILED}


METHOD_CHECKS = {"unsupported_method", "allow_header_conformance"}


def test_undeclared_methods__never_judged_against_the_packaged_spec_whatever_the_server_answers() -> None:
    """Nick promises neither 405 nor `Allow`: Nick's 404 passes, and so does a 405 without `Allow`."""
    for server in (serve(), brokenjobs.serve(brokenjobs.Difference.METHODS_405)):
        with server as running:
            undeclared = requests.put(f"{running.url}/@jobs", timeout=5)
            report = check(running.url, "schema", max_examples=5)
        assert undeclared.status_code in (404, 405) and "Allow" not in undeclared.headers
        assert report.exit_code == 0, [r for r in report.results if r.outcome is Outcome.FAILED]
        assert [r for r in report.results if r.name in METHOD_CHECKS] == []


def test_undeclared_methods__judged_where_a_spec_copy_documents_405(tmp_path: Path) -> None:
    """The same 405 without `Allow` that passes against the packaged spec fails where a copy promises 405 + `Allow`."""
    spec = write_variant("documented-405", tmp_path)
    with brokenjobs.serve(brokenjobs.Difference.METHODS_405) as server:
        report = check(server.url, "schema", spec=spec)
    judged = {(r.name, r.subject) for r in report.results if r.name in METHOD_CHECKS}
    assert ("unsupported_method", "GET /@jobs/{id}") in judged
    assert {subject for _, subject in judged} <= {"GET /@jobs/{id}", "DELETE /@jobs/{id}"}, judged
    failed = next(r for r in report.results if r.name == "unsupported_method" and r.outcome is Outcome.FAILED)
    assert failed.subject == "GET /@jobs/{id}" and "without required `Allow` header" in failed.findings[0].message
    assert report.exit_code == 1


def test_positive_data_acceptance__a_refusal_answered_400_is_no_rejected_valid_request() -> None:
    """A lifecycle refusal is the spec's answer to a valid request, though schemathesis reads a 400 as a rejection."""
    with serve() as server:
        report = check(server.url, "schema", max_examples=10)
        refused = [entry for entry in server.journal if entry[1].endswith(("/abort", "/retry")) and entry[2] == 400]
    assert refused, "schemathesis met no refusal: the test proves nothing"
    judged = [
        r for r in report.results if r.name == "positive_data_acceptance" and r.subject.endswith(("abort", "retry"))
    ]
    assert judged and all(r.outcome is Outcome.PASSED for r in judged), judged
    assert report.exit_code == 0


def test_positive_data_acceptance__a_400_on_get_job_is_still_a_rejected_valid_request() -> None:
    """Only the operations a refusal belongs to expect its status: getJob refusing an id that is not a UUID fails."""
    with brokenjobs.serve(brokenjobs.Breakage.NON_UUID_400) as server:
        report = check(server.url, "schema", max_examples=10)
    failed = {(r.name, r.subject) for r in report.results if r.outcome is Outcome.FAILED}
    assert ("positive_data_acceptance", "GET /@jobs/{id}") in failed, failed
    assert report.exit_code == 1


def test_accept_language__every_request_asks_for_english() -> None:
    """The spec's texts are Nick's English ones: the suite asks for them on every request, schemathesis's too."""
    with serve() as server:
        report = check(server.url, "auth", "schema", "lifecycle", max_examples=3)
        languages = list(server.languages)
    assert report.exit_code == 0
    assert len(languages) > 50 and set(languages) == {"en"}


def test_accept_language__a_header_the_user_gives_wins() -> None:
    with serve() as server:
        report = check(server.url, "auth", header=(("Accept-Language", "sv"),))
        languages = set(server.languages)
    assert languages == {"sv"}
    failed = {r.name for r in report.results if r.outcome is Outcome.FAILED}
    assert "auth_no_token" in failed, "Nick's Swedish texts are not the spec's"


def test_accept_language__a_deployment_answering_dutch_by_default_passes() -> None:
    with brokenjobs.serve(brokenjobs.Difference.DUTCH_BY_DEFAULT) as server:
        unasked = requests.get(f"{server.url}/@jobs", timeout=5)
        report = check(server.url, "auth", "lifecycle")
    assert unasked.json() == {"message": "U heeft geen rechten om tot deze resource."}
    assert report.exit_code == 0, [r for r in report.results if r.outcome is Outcome.FAILED]


def test_accept_language__a_deployment_answering_dutch_to_english_fails_the_exact_bodies() -> None:
    with brokenjobs.serve(brokenjobs.Breakage.DUTCH_ALWAYS) as server:
        report = check(server.url, "auth", "lifecycle")
    failed = {(r.name, r.subject) for r in report.results if r.outcome is Outcome.FAILED}
    assert report.exit_code == 1
    assert {("auth_no_token", "GET /@jobs"), ("login_refuses_wrong_password", "login")} <= failed, failed
    assert ("unknown_job_not_found", "getJob") in failed, "Nick's 'Niet gevonden.' is not the spec's 404"


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
    """A helper of the schema phase: a child of the forkserver this process started, still there a moment later (the
    first process the server makes, as it starts, ends at once)."""
    seen: set[int] = set()
    while time.monotonic() < deadline:
        servers = [pid for pid in _children(os.getpid()) if b"forkserver" in _cmdline(pid)]
        grandchildren = [pid for server in servers for pid in _children(server)]
        lasting = [pid for pid in grandchildren if pid in seen]
        if lasting:
            return lasting[0]
        seen.update(grandchildren)
        time.sleep(0.3)
    raise AssertionError("no helper process appeared")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _children(pid: int) -> list[int]:
    return [child for child, (parent, _) in processes().items() if parent == pid]
