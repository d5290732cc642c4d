"""`jobs-conformance` end to end: exit codes, reports, fixture sources and safety, against the real mock."""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from conformance import pool
from conformance.cli import main
from conformance.phases import PHASES
from jobspec import load_spec
from jobspec.loader import packaged_spec_path
from mockserver.config import MockConfig
from mockserver.testing import LiveMock
from tests.fakejobs import FORBIDDEN_USER, Violation, serve
from tests.helpers import fresh, processes
from verdicts.coverage import expected_cells

SCRIPT = Path(__file__).parent / "scripts" / "make_job.py"
FORBIDDEN = ["--forbidden-login", FORBIDDEN_USER[0], "--forbidden-password", FORBIDDEN_USER[1]]
QUICK = ["--max-examples", "5", "--seed", "1"]


@pytest.fixture(scope="module")
def running_mock() -> Iterator[LiveMock]:
    """The mock with its clock running, as `jobs-mock` starts by default."""
    with LiveMock(config=MockConfig(seed=7)) as server:
        yield server


@pytest.fixture
def live(running_mock: LiveMock) -> Iterator[LiveMock]:
    yield from fresh(running_mock)


def report_of(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([], "--base-url is required", id="no-base-url"),
        pytest.param(["--base-url", "http://x", "--bogus"], "unrecognized arguments: --bogus", id="unknown-flag"),
        pytest.param(
            ["--base-url", "http://x", "--max-examples", "0"], "--max-examples: must be at least 1", id="zero"
        ),
        pytest.param(
            ["--base-url", "http://x", "--processes", "0"], "--processes: must be at least 1", id="no-processes"
        ),
        pytest.param(["--base-url", "http://x", "--timeout", "soon"], "--timeout: not a number", id="not-a-number"),
        pytest.param(["--base-url", "ftp://x"], "must be an http(s) URL", id="not-http"),
        pytest.param(["--base-url", "http://[::1"], "not a valid URL", id="broken-url"),
        pytest.param(
            ["--base-url", "http://ops:s3cret@x"], "--base-url: must carry no user or password", id="credentials"
        ),
        pytest.param(
            ["--base-url", "http://x", "--read-only", "--allow-destructive"], "contradict", id="contradiction"
        ),
        pytest.param(
            ["--base-url", "http://x", "--phases", "auth,nope"], "unknown phases ['nope']", id="unknown-phase"
        ),
        pytest.param(["--base-url", "http://x", "--require", "most"], "--require: must be all, cells", id="bad-gate"),
        pytest.param(["--base-url", "http://x", "-H", "no colon"], "--header: must be 'Name: value'", id="bad-header"),
        pytest.param(
            ["--base-url", "http://x", "--fixtures", "magic"], "--fixtures: must be mock, none", id="fixtures"
        ),
    ],
)
def test_usage_errors_exit_2_naming_the_problem(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3
    assert "s3cret" not in err  # a password given in the URL is never shown


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("jobs-conformance 0.")


def test_unreachable_deployment_exits_2_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--base-url", f"http://127.0.0.1:{unused_port()}"]) == 2
    assert "unreachable" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("login", "password"),
    [
        pytest.param("admin", "wrong", id="wrong-password"),
        pytest.param("editor", "editor", id="password-like-the-login"),  # the login name is no secret to mask
    ],
)
def test_a_refused_login_exits_2_with_its_one_line_alone_naming_the_user(
    login: str, password: str, live: LiveMock, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 28, item 4: a wrong password printed a 20-line empty table before its line (and the line again in the
    verdict), and a password like the login name masked the name: "login as '***'"."""
    assert main(["--base-url", live.url, "--login", login, "--password", password]) == 2
    out, err = capsys.readouterr()
    line = f"jobs-conformance: login as '{login}' failed: POST /@login answered 401"
    assert err.startswith(line) and len(err.strip().splitlines()) == 1, err
    assert (out + err).count("failed") == 1 and "***" not in err
    assert [text for text in out.splitlines() if not text.startswith("> ")] == [], out  # its progress alone


def test_a_base_url_without_a_scheme_is_one_line_saying_it_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 28, item 4: a missing scheme was reported twice."""
    assert main(["--base-url", "localhost:8080", "--phases", "auth"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.count("must be an http(s) URL") == 1 and err.count("did you mean 'http://localhost:8080'?") == 1, err


def test_junit__a_missed_coverage_gate_is_a_failed_case_the_failures_count(live: LiveMock, tmp_path: Path) -> None:
    """Issue 28, item 3: a run that exits 1 for --require showed failures="0", no test case naming the gate."""
    junit = tmp_path / "junit.xml"
    assert main(["--base-url", live.url, "--phases", "auth", "--require", "all", "-q", "--junit", str(junit)]) == 1
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "1" and root.get("errors") == "0"
    failure = root.find("testsuite[@name='coverage']/testcase[@name='require']/failure")
    assert failure is not None and failure.get("message") == "coverage below --require all: 5 checks not exercised"
    assert "auth: auth_forbidden_user [GET /@jobs]: no user who may not manage jobs" in (failure.text or "")
    for suite in root:
        for case in suite:
            assert case.get("classname") == f"jobs-conformance.{suite.get('name')}", ET.tostring(case)
    timed = [case for case in root.iterfind("testsuite[@name='auth']/testcase") if case.get("time") is not None]
    assert timed and len(timed) == len(root.findall("testsuite[@name='auth']/testcase"))


def test_a_run_leaves_no_hypothesis_directory_where_it_started(live: LiveMock, tmp_path: Path) -> None:
    """Issue 28, item 4: every run left `.hypothesis/` in the current directory; its files go to the user's cache."""
    script = Path(sys.executable).with_name("jobs-conformance")
    unset = ("HYPOTHESIS_STORAGE_DIRECTORY", "JOBS_MOCK_TOKEN", "JOBS_JWT_SECRET")
    env = {name: value for name, value in os.environ.items() if name not in unset}
    argv = [str(script), "--base-url", live.url, "--phases", "schema", "--max-examples", "1", "--seed", "1", "-q"]
    done = subprocess.run(
        argv,
        cwd=tmp_path,
        env={**env, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (tmp_path / ".hypothesis").exists()
    assert (tmp_path / "cache" / "jobs-conformance" / "hypothesis").is_dir()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("not: [valid", id="not-yaml"),
        pytest.param("openapi: 3.1.0\npaths: {}\ncomponents: {schemas: {Job: {properties: {}}}}\n", id="no-lifecycle"),
    ],
)
def test_bad_spec_exits_2(tmp_path: Path, content: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(content)
    assert main(["--base-url", "http://127.0.0.1:1", "--spec", str(spec)]) == 2


def test_full_default_run_against_the_mock_passes_with_every_cell_exercised(live: LiveMock, tmp_path: Path) -> None:
    files = {name: tmp_path / name for name in ("junit.xml", "report.json", "report.md")}
    code = main(
        ["--base-url", live.url, "--fixtures", "mock", *FORBIDDEN, "-q", "--deadline", "600"]  # a hang is exit 2
        + ["--junit", str(files["junit.xml"]), "--report", str(files["report.json"])]
        + ["--markdown", str(files["report.md"])]
    )
    report = report_of(files["report.json"])
    assert code == 0, report["error"] or [c for c in report["checks"] if c["outcome"] == "failed"]
    cells = [mark for row in report["matrix"].values() for mark in row.values() if mark]
    assert cells and set(cells) == {"pass"}
    assert [c for c in report["checks"] if c["outcome"] != "passed"] == []
    suites = ET.parse(files["junit.xml"]).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["reachability", *PHASES]
    assert all(s.get("failures") == "0" for s in suites)
    assert sum(int(s.get("tests", 0)) for s in suites) == len(report["checks"])
    assert "| created |" in files["report.md"].read_text()


def test_command_fixtures_against_the_mock_exercise_every_cell(live: LiveMock, tmp_path: Path) -> None:
    command = f"command:{shlex.quote(sys.executable)} {shlex.quote(str(SCRIPT))} {live.url}"
    out = tmp_path / "report.json"
    code = main(["--base-url", live.url, "--fixtures", command, "--phases", "lifecycle", "-q", "--report", str(out)])
    report = report_of(out)
    assert code == 0
    cells = [mark for row in report["matrix"].values() for mark in row.values() if mark]
    assert len(cells) == len(expected_cells(load_spec())) and set(cells) == {"pass"}


# A fixture command slower than the worker: the job it makes to watch has left `created` before it prints the id.
LATE = """
import json, os, sys, time, urllib.request
url, status, outcome = sys.argv[1], sys.argv[2], os.environ.get("JOBS_CONFORMANCE_OUTCOME")
timing = {"delay": 0.05, "duration": 3, "outcome": outcome} if outcome else {"delay": 86400, "duration": 86400}
made = {"status": status, "params": {"mock": timing}}
request = urllib.request.Request(url + "/__mock__/jobs", json.dumps(made).encode(), {"Content-Type": "application/json"})
job_id = json.load(urllib.request.urlopen(request, timeout=10))["uuid"]
while outcome and status == "created":
    jobs = json.load(urllib.request.urlopen(url + "/__mock__/jobs", timeout=10))
    if next(job["status"] for job in jobs if job["uuid"] == job_id) != "created":
        break
    time.sleep(0.02)
print(job_id)
"""


def test_a_job_the_worker_moved_before_the_suite_first_read_it_shows_the_worker_starting_it(
    live: LiveMock, tmp_path: Path
) -> None:
    """The jobs made to watch are made `created`: first read `running`, the worker started them (in CI, Nick's
    worker did so before the suite's first read and `start` went unexercised)."""
    script = tmp_path / "late.py"
    script.write_text(LATE)
    command = f"command:{shlex.quote(sys.executable)} {shlex.quote(str(script))} {live.url}"
    out = tmp_path / "report.json"
    code = main(["--base-url", live.url, "--fixtures", command, "--phases", "lifecycle", "-q", "--report", str(out)])
    report = report_of(out)
    assert code == 0, [c for c in report["checks"] if c["outcome"] != "passed"]
    worker = {c["subject"]: c["outcome"] for c in report["checks"] if c["name"] == "worker_follows_lifecycle"}
    assert worker["start: created -> running"] == "passed", worker
    assert set(worker.values()) == {"passed"}, worker


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        pytest.param("import sys; sys.stderr.write('no jobs today'); sys.exit(3)", "exited with 3", id="fails"),
        pytest.param("pass", "printed no job id", id="silent"),
    ],
)
def test_a_failing_fixture_command_is_an_error_of_the_run_with_its_cause(
    live: LiveMock, tmp_path: Path, code: str, cause: str, capsys: pytest.CaptureFixture[str]
) -> None:
    command = f"command:{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    out = tmp_path / "report.json"
    argv = ["--base-url", live.url, "--fixtures", command, "--phases", "lifecycle", "--timeout", "1"]
    assert main([*argv, "--report", str(out)]) == 2
    err = capsys.readouterr().err
    assert cause in err and "Traceback" not in err
    report = report_of(out)
    assert report["exit_code"] == 2 and cause in report["error"]


def test_fixtures_none_against_the_mock_data_passes_and_says_what_it_could_not_exercise(
    live: LiveMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    code = main(["--base-url", live.url, "--fixtures", "none", *QUICK, "--timeout", "1", "--report", str(out)])
    report = report_of(out)
    assert code == 0
    skipped = [c for c in report["checks"] if c["outcome"] == "not exercised"]
    assert any("--allow-destructive" in c["reason"] for c in skipped)
    assert "Not exercised" in capsys.readouterr().out


def test_read_only_against_the_mock_changes_no_job(tmp_path: Path) -> None:
    with LiveMock(config=MockConfig(frozen=True)) as frozen:
        jobs_before = _jobs(frozen)
        code = main(["--base-url", frozen.url, "--read-only", *QUICK, "--timeout", "1", "-q"])
        journal = frozen.control("GET", "journal")
        jobs_after = _jobs(frozen)
        assert frozen.errors() == []
    assert code == 0
    assert jobs_after == jobs_before
    methods = {(entry["method"], entry["operationId"]) for entry in journal}
    assert {method for method, _ in methods} <= {"GET", "POST"}
    assert {op for method, op in methods if method == "POST"} == {"login"}


def _jobs(mock: LiveMock) -> Any:
    token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}, timeout=5).json()["token"]
    return requests.get(f"{mock.url}/@jobs", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()


def test_a_spec_copy_is_what_gets_checked(tmp_path: Path) -> None:
    """A deployment that refuses with 409 on purpose passes against a copy of the spec that says so."""
    raw = yaml.safe_load(packaged_spec_path().read_text())
    for refusal in raw["x-job-lifecycle"]["refusals"]:
        refusal["status"] = 409
    for path in ("/@jobs/{id}/abort", "/@jobs/{id}/retry"):  # a copy documents what its lifecycle answers
        responses = raw["paths"][path]["post"]["responses"]
        responses["409"] = responses.pop("400")
    copy = tmp_path / "their-jobs.yaml"
    copy.write_text(yaml.safe_dump(raw))
    argv = ["--fixtures", "mock", "--phases", "lifecycle", "--timeout", "2", "-q"]
    with serve(Violation.REFUSAL_409) as server:
        assert main(["--base-url", server.url, *argv]) == 1
        assert main(["--base-url", server.url, "--spec", str(copy), *argv]) == 0


def test_without_a_jobs_api_a_default_run_exits_2_in_one_line_quoting_the_404(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stock Nick 2.8.0 has login, renewal and logout, and answers GET /@jobs with its 404 for an unknown path."""
    out = tmp_path / "report.json"
    with serve(jobs_api=False) as nick:
        assert main(["--base-url", nick.url, "--fixtures", "mock", "-q", "--report", str(out)]) == 2
        asked = [(method, path) for method, path, _ in nick.journal]
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "the deployment has no jobs API" in lines[0] and "answered 404" in lines[0]
    assert """'{"error": "Not found: /@jobs"}'""" in lines[0]
    assert "--phases auth" in lines[0] and "Traceback" not in err
    assert "no jobs API" in report_of(out)["error"]
    assert asked == [("GET", "/"), ("POST", "/@login"), ("GET", "/@jobs")], "nothing after the setup"


def test_without_a_jobs_api_the_auth_phase_alone_checks_the_session(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with serve(jobs_api=False) as nick:
        code = main(["--base-url", nick.url, "--phases", "auth", *FORBIDDEN, "-q", "--report", str(out)])
        asked = {path for _, path, _ in nick.journal}
    checks = report_of(out)["checks"]
    assert code == 0, [c for c in checks if c["outcome"] == "failed"]
    guarded = [c for c in checks if c["name"].startswith("auth_") and "/@jobs" in c["subject"]]
    assert guarded and {c["outcome"] for c in guarded} == {"not exercised"}
    assert all("the deployment has no jobs API" in c["reason"] for c in guarded)
    assert {c["subject"] for c in guarded} == {"GET /@jobs", "GET /@jobs/{id}", "DELETE /@jobs/{id}",
                                               "POST /@jobs/{id}/abort", "POST /@jobs/{id}/retry"}  # fmt: skip
    assert "auth_forbidden_user" in {c["name"] for c in guarded}
    passed = {(c["name"], c["subject"]) for c in checks if c["outcome"] == "passed"}
    assert {("renewed_token_works", "renewLogin"), ("logout_ends_the_session", "logout")} <= passed
    assert {("logout_is_idempotent", "logout"), ("token_is_a_jwt", "login")} <= passed
    assert ("auth_no_token", "POST /@login-renew") in passed, "renewal's own refusals are still checked"
    assert asked == {"/", "/@login", "/@login-renew", "/@logout", "/@jobs"}


def test_without_a_jobs_api_the_auth_phase_still_finds_a_session_that_outlives_logout(tmp_path: Path) -> None:
    """Renewal tells whether a token still works where there is no jobs list to ask."""
    out = tmp_path / "report.json"
    with serve(Violation.LOGOUT_KEEPS_TOKEN, jobs_api=False) as nick:
        assert main(["--base-url", nick.url, "--phases", "auth", "-q", "--report", str(out)]) == 1
    failed = {(c["name"], c["subject"]) for c in report_of(out)["checks"] if c["outcome"] == "failed"}
    assert failed == {("logout_ends_the_session", "logout")}, failed


def test_a_rate_limit_too_small_for_the_run_stops_it_before_the_phases_saying_what_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nick's default: 5 logins and renewals per 15 minutes (AUTH_RATE_LIMIT); the run says so before it starts."""
    out = tmp_path / "report.json"
    with LiveMock(config=MockConfig(rate_limits=(("AUTH_RATE_LIMIT", 5),))) as limited:
        code = main(["--base-url", limited.url, "--fixtures", "mock", "-q", "--report", str(out)])
        journal = limited.control("GET", "journal")
        assert limited.errors() == []
    err = capsys.readouterr().err
    assert code == 2
    needs = re.search(r"this run sends about (\d+) requests to /@login and /@login-renew", err)
    assert needs is not None and int(needs.group(1)) > 4, err
    assert "allows this address 4 more for now (RateLimit-Remaining)" in err
    assert "AUTH_RATE_LIMIT" in err and "--phases lifecycle alone sends none" in err and "Traceback" not in err
    assert "--phases auth" not in err, "the auth phase alone needs more than the 4 left: not offered"
    assert "AUTH_RATE_LIMIT" in report_of(out)["error"]
    sent = [(entry["method"], entry["operationId"]) for entry in journal]
    assert sent == [("GET", None), ("POST", "login"), ("GET", "getJobs")], "no phase ran"


def test_a_rate_limit_the_run_fits_in_does_not_stop_it(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with LiveMock(config=MockConfig(rate_limits=(("AUTH_RATE_LIMIT", 100),))) as limited:
        code = main(["--base-url", limited.url, "--fixtures", "mock", "--phases", "auth", "-q", "--report", str(out)])
        logins = [entry for entry in limited.control("GET", "journal") if entry["operationId"] == "login"]
    assert code == 0, report_of(out)["error"] or [c for c in report_of(out)["checks"] if c["outcome"] == "failed"]
    assert 5 < len(logins) < 100


def test_installed_script_and_module_run(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("jobs-conformance")
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert helped.returncode == 0 and "--fixtures" in helped.stdout
    url = f"http://127.0.0.1:{unused_port()}"
    module = subprocess.run(
        [sys.executable, "-m", "conformance", "--base-url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert module.returncode == 2 and "unreachable" in module.stderr


def test_mock_fixtures_send_the_control_token_and_a_refusal_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    argv = ["--fixtures", "mock", "--phases", "lifecycle", "--timeout", "2", "-q", "--report", str(out)]
    with LiveMock(config=MockConfig(control_token="s3cret-token")) as guarded:
        monkeypatch.delenv("JOBS_MOCK_TOKEN", raising=False)
        assert main(["--base-url", guarded.url, *argv]) == 2
        err = capsys.readouterr().err
        assert main(["--base-url", guarded.url, "--mock-token", "s3cret-token", *argv]) == 0
        monkeypatch.setenv("JOBS_MOCK_TOKEN", "s3cret-token")
        assert main(["--base-url", guarded.url, *argv]) == 0
        skipped = [c for c in report_of(out)["checks"] if c["outcome"] == "not exercised"]
    assert "answered 401" in err and "--mock-token" in err
    assert skipped == []


@contextmanager
def _in_schema_phase(
    live: LiveMock, stderr: int, until: str = "> schema:", wait: float = 1.0, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """A suite in its own process group, `wait` seconds after the line starting with `until` (by default, a second
    into its schema phase: helpers at work); the group killed after."""
    script = Path(sys.executable).with_name("jobs-conformance")
    argv = [str(script), "--base-url", live.url, "--fixtures", "mock", "--processes", "2", "--max-examples", "1000"]
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True, env=env
    ) as suite:
        try:
            assert suite.stdout is not None
            for line in suite.stdout:
                if line.startswith(until):
                    break
            time.sleep(wait)
            yield suite
        finally:
            if _alive(suite.pid):
                os.killpg(suite.pid, signal.SIGKILL)


def _ctrl_c(suite: subprocess.Popen[str], live: LiveMock) -> None:
    """Ctrl-C to the suite's group: it must end at once, with exit 130, one line, and no helper left sending."""
    os.killpg(suite.pid, signal.SIGINT)  # what a terminal sends the whole group on Ctrl-C
    _, stderr = suite.communicate(timeout=30)
    assert suite.returncode == 130
    assert stderr.strip() == "jobs-conformance: interrupted: no verdict"
    before = _jobs_requests(live)
    time.sleep(1.0)
    assert _jobs_requests(live) == before  # no helper goes on sending requests


def test_ctrl_c_in_the_schema_phase_stops_the_helpers_and_gives_no_verdict(live: LiveMock) -> None:
    with _in_schema_phase(live, subprocess.PIPE) as suite:
        _ctrl_c(suite, live)


# Loaded by the suite's Python (as sitecustomize): the second process the suite starts is held between its start and
# the pool's record of it, a moment a Ctrl-C can land on, more often on a busy machine.
HELPER_STARTS_SLOWLY = """
import sys, time
if sys.argv and sys.argv[0].endswith("jobs-conformance"):
    import multiprocessing.process
    started = multiprocessing.process.BaseProcess.start
    count = 0

    def start(self):
        global count
        started(self)
        count += 1
        if count == 2:
            print("> test: a helper started, the pool has no record of it yet", flush=True)
            time.sleep(3)

    multiprocessing.process.BaseProcess.start = start
"""


def test_a_ctrl_c_while_a_helper_starts_still_ends_every_helper(live: LiveMock, tmp_path: Path) -> None:
    """Raised there, the pool would never end that helper, and the suite would wait for it as it exits."""
    (tmp_path / "sitecustomize.py").write_text(HELPER_STARTS_SLOWLY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    with _in_schema_phase(live, subprocess.PIPE, until="> test:", wait=0.5, env=env) as suite:
        _ctrl_c(suite, live)


def test_a_suite_killed_in_the_schema_phase_leaves_no_helper_behind(live: LiveMock) -> None:
    """SIGKILL gives the suite no chance to end its helpers: they end themselves, and the output closes."""
    with _in_schema_phase(live, subprocess.DEVNULL) as suite:
        os.kill(suite.pid, signal.SIGKILL)  # the suite alone: its helpers and forkserver live on
        suite.wait(10)
        deadline = time.monotonic() + 15
        assert _closed(suite.stdout, deadline), "the suite's output is still held open (by its helpers)"
        while time.monotonic() < deadline and _alive(suite.pid):
            time.sleep(0.1)
        assert not _alive(suite.pid), "a process of the killed suite's group is still running"


def test_in_the_schema_phase_a_ctrl_c_reaches_the_suite_alone(live: LiveMock) -> None:
    """The processes the suite makes for the phase hold SIGINT back from their start (a Ctrl-C while the server
    imports would end it with a traceback), and its helpers ignore it: the suite decides, and ends them."""
    with _in_schema_phase(live, subprocess.DEVNULL) as suite:
        # Each helper does one task and is replaced: one caught between its fork and its first step still holds
        # SIGINT back, as the server it was forked from does. Looked at again until every helper has taken its step.
        deadline = time.monotonic() + 10
        while True:
            made = {pid: parent for pid, parent in _group(suite.pid).items() if pid != suite.pid}
            helpers = [pid for pid, parent in made.items() if parent != suite.pid]
            starting = [pid for pid in helpers if _sigint(pid, "SigBlk") and not _sigint(pid, "SigIgn")]
            if not starting or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        servers = {made[pid] for pid in helpers}
        assert len(made) == 4, made  # the resource tracker, the server, and the two helpers it forked
        assert len(helpers) == 2 and len(servers) == 1, made
        for pid in servers:
            assert _sigint(pid, "SigBlk"), f"the server {pid} took SIGINT from its start"
        for pid in helpers:
            assert _sigint(pid, "SigIgn"), f"helper {pid} acts on SIGINT"
        for pid in made:
            assert _sigint(pid, "SigBlk") or _sigint(pid, "SigIgn"), (
                f"process {pid} of the suite's group acts on SIGINT"
            )


def test_a_ctrl_c_while_helpers_work_is_noted_and_raised_where_the_suite_waits() -> None:
    """Not wherever the main thread is: between a helper's start and the pool's record of it, that helper would
    never be ended (and the suite would wait for it at exit)."""
    reached = False
    with pytest.raises(KeyboardInterrupt), pool.ctrl_c_noted() as ctrl_c:
        os.kill(os.getpid(), signal.SIGINT)
        assert ctrl_c.wait(5)  # handled (Python runs handlers between bytecodes), and nothing raised here
        reached = True
    assert reached  # raised on leaving
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # and Python's own handler is back


def _group(group: int) -> dict[int, int]:
    """The processes of a process group, each with its parent's process id."""
    return {pid: parent for pid, (parent, its_group) in processes().items() if its_group == group}


def _sigint(pid: int, mask: str) -> bool:
    """Whether SIGINT is in a process's `mask` (SigBlk: held back, SigIgn: ignored), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{mask}:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGINT - 1) & 1)
    raise AssertionError(f"no {mask} in /proc/{pid}/status")


def _closed(stream: Any, deadline: float) -> bool:
    """Whether `stream` reaches its end (every process holding it open has ended) by `deadline`."""
    fd = stream.fileno()
    while (left := deadline - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0] and not os.read(fd, 65536):
            return True
    return False


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _jobs_requests(mock: LiveMock) -> int:
    """How many requests the mock's journal holds, its own journal's left out."""
    entries = requests.get(f"{mock.url}/__mock__/journal", timeout=5).json()
    return sum(1 for entry in entries if not entry["path"].startswith("/__mock__/journal"))
