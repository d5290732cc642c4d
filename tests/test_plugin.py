"""The pytest entry point: the same checks inside a user's own pytest session, run at test time.

Each `--jobs-*` option is shown to take effect through the plugin as its CLI twin does (a case per option of
`conformance.options.OPTIONS`, so that a new option without one fails), its wrong values to be usage errors;
the coverage gate is a failing test naming what it misses; the JUnit pytest writes names each check's phase and
time; and a run leaves no `.hypothesis/` where it started.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import ssl
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from aiohttp import web

from conformance.options import OPTIONS, Option
from mockserver.config import MockConfig
from mockserver.testing import LiveMock
from tests.fakejobs import FORBIDDEN_USER, JobsServer, Violation, serve
from tests.helpers import ThreadedServer, spec_copy

# What the environment of the test process may hold that would change a run of the plugin: the suite's own settings
# (a run of the CLI in this process sets Hypothesis's).
UNSET = ("JOBS_MOCK_TOKEN", "JOBS_JWT_SECRET", "HYPOTHESIS_STORAGE_DIRECTORY")
FROZEN = MockConfig(frozen=True, seed=7)
OTHER_SECRET = "not-nicks-development-secret-0123456789"  # a deployment's own JWT signing secret
CONTROL_TOKEN = "control-token-of-the-mock"
PROBE = '''"""A pytest plugin for the test: notes how many helper processes the schema phase asks the pool for."""
import os
from pathlib import Path

from conformance import pool

ordered = pool.run_in_order


def run_in_order(work, items, processes, *rest):
    Path(os.environ["JOBS_TEST_PROBE"]).write_text(str(processes))
    return ordered(work, items, processes, *rest)


pool.run_in_order = run_in_order
'''


def pytest_run(directory: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`pytest --pyargs conformance.test_deployment ARGS` in `directory`, in an environment of no suite settings."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "conformance.test_deployment"]
    clean = {name: value for name, value in os.environ.items() if name not in UNSET}
    return subprocess.run(
        [*command, *args],
        cwd=directory,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_without_a_base_url_the_check_is_skipped_naming_the_option(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, "-q", "-rs")
    assert run.returncode == 0, run.stdout
    assert "1 skipped" in run.stdout and "--jobs-base-url" in run.stdout


def test_checks_run_as_tests_at_run_time_without_warnings_and_fail_naming_the_check(tmp_path: Path) -> None:
    options = ["--jobs-fixtures", "mock", "--jobs-timeout", "2", "--jobs-max-examples", "2", "--jobs-seed", "1"]
    junit = tmp_path / "j.xml"
    with serve() as good:
        passed = pytest_run(tmp_path, "--jobs-base-url", good.url, *options, "-q", "-W", "error")
    with serve(Violation.DELETE_KEEPS) as broken:
        failed = pytest_run(
            tmp_path,
            "--jobs-base-url",
            broken.url,
            *options,
            "--jobs-phases",
            "auth,lifecycle",
            "-q",
            f"--junitxml={junit}",
        )
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert "warning" not in (passed.stdout + passed.stderr).lower()
    assert failed.returncode == 1
    assert "test_conformance[lifecycle:deletion_is_final]" in failed.stdout
    assert "deleteJob on created" in failed.stdout
    times = [float(case.get("time", 0)) for case in ET.parse(junit).getroot().iter("testcase")]
    assert max(times) > 0.1, times  # the phases ran inside the tests, not at collection


def test_skip_reasons_name_the_plugins_options(tmp_path: Path) -> None:
    with serve() as server:
        run = pytest_run(
            tmp_path, "--jobs-base-url", server.url, "--jobs-phases", "lifecycle", "--jobs-timeout", "0.5", "-rs"
        )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "--jobs-allow-destructive" in run.stdout and "--jobs-fixtures" in run.stdout


def test_an_unreachable_deployment_fails_every_test_with_the_cause(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, "--jobs-base-url", "http://127.0.0.1:1", "--jobs-phases", "auth", "-q")
    assert run.returncode == 1
    assert "unreachable" in run.stdout and "passed" not in run.stdout


# --- the coverage gate -------------------------------------------------------------------------------------------

FORBIDDEN = ["--jobs-forbidden-login", FORBIDDEN_USER[0], "--jobs-forbidden-password", FORBIDDEN_USER[1]]


@pytest.fixture(scope="module")
def running_mock() -> Iterator[LiveMock]:
    """The mock with its clock running, as `jobs-mock` starts by default: its worker moves the jobs the suite makes."""
    with LiveMock(config=MockConfig(seed=7)) as server:
        yield server


@pytest.mark.parametrize(
    ("gate", "missed", "met", "problem", "missing"),
    [
        pytest.param(
            "all",
            ["--jobs-phases", "auth"],
            ["--jobs-phases", "auth", *FORBIDDEN],
            "checks not exercised",
            "auth: auth_forbidden_user [GET /@jobs]: no user who may not manage jobs",
            id="all",
        ),
        pytest.param(
            "cells",
            ["--jobs-phases", "lifecycle", "--jobs-timeout", "1"],
            ["--jobs-phases", "lifecycle", "--jobs-fixtures", "mock", "--jobs-timeout", "2"],
            "lifecycle cells not exercised",
            "running x abortJob",
            id="cells",
        ),
        pytest.param(
            "90%",
            ["--jobs-phases", "auth", "--jobs-read-only"],
            ["--jobs-phases", "auth"],  # its forbidden user's checks missing: a share, not all
            "% of the checks exercised, 90% required",
            "auth: token_is_a_jwt [login]: --jobs-read-only sends no login but its own",
            id="share",
        ),
    ],
)
def test_require__a_missed_gate_is_one_failed_test_naming_what_is_missing_in_every_junit_and_a_met_one_passes(
    gate: str, missed: list[str], met: list[str], problem: str, missing: str, running_mock: LiveMock, tmp_path: Path
) -> None:
    """Issue 28, item 3: `--jobs-require` was accepted and ignored (exit 0 against a server with checks not exercised)."""
    running_mock.reset()
    argv = ["--jobs-base-url", running_mock.url, "--jobs-require", gate, "-q", "--junitxml=pytest.xml"]
    failed = pytest_run(tmp_path, *argv, *missed, "--jobs-junit", "jobs.xml")
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "1 failed" in failed.stdout and "FAILED ::test_conformance[coverage:require]" in failed.stdout
    assert f"coverage below --jobs-require {gate}: " in failed.stdout and problem in failed.stdout
    assert missing in failed.stdout, failed.stdout[-3000:]
    case = ET.parse(tmp_path / "pytest.xml").getroot().find(".//testcase[@name='test_conformance[coverage:require]']")
    assert case is not None and case.get("classname") == "jobs-conformance.coverage"
    failure = case.find("failure")
    assert failure is not None and problem in (failure.get("message") or "")
    ours = ET.parse(tmp_path / "jobs.xml").getroot()  # the suite's own JUnit, as the CLI writes it
    assert ours.get("failures") == "1" and ours.find("testsuite[@name='coverage']/testcase/failure") is not None
    running_mock.reset()
    passed = pytest_run(tmp_path, "--jobs-base-url", running_mock.url, "--jobs-require", gate, "-q", *met)
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert "coverage below" not in passed.stdout and "failed" not in passed.stdout
    assert running_mock.errors() == []


# --- every option, through the plugin ----------------------------------------------------------------------------


@dataclass
class Ran:
    """One pytest run of the plugin: its exit code and output, its directory (the files it wrote), what the server
    was sent ("METHOD operationId status" for the mock) and anything else it noted."""

    code: int
    output: str
    directory: Path
    sent: list[str]
    noted: Any = None

    def report(self) -> dict[str, Any]:
        """The JSON report the run wrote (`--jobs-report report.json`)."""
        return dict(json.loads((self.directory / "report.json").read_text()))

    def outcomes(self, name: str) -> set[str]:
        """The outcomes of the check `name` over all its subjects, in the JSON report."""
        return {check["outcome"] for check in self.report()["checks"] if check["name"] == name}

    def junit(self, name: str = "junit.xml") -> list[ET.Element]:
        """The test cases of a JUnit file the run wrote."""
        return list(ET.parse(self.directory / name).getroot().iter("testcase"))


def on_mock(directory: Path, *args: str, config: MockConfig = FROZEN, env: dict[str, str] | None = None) -> Ran:
    """A run against a mock of its own; `TOKEN` in `args` stands for a token of admin's, issued before the run."""
    with LiveMock(config=config) as mock:
        token = mock.admin.headers["Authorization"].removeprefix("Bearer ")
        before = max((entry["seq"] for entry in mock.calls()), default=0)
        done = pytest_run(directory, "--jobs-base-url", mock.url, *(a.replace("TOKEN", token) for a in args), env=env)
        calls = [entry for entry in mock.calls() if entry["seq"] > before]
        assert mock.errors() == [], "the mock reported its own errors"
    sent = [f"{entry['method']} {entry['operationId']} {entry['status']}" for entry in calls]
    return Ran(done.returncode, done.stdout + done.stderr, directory, sent)


def on_server(directory: Path, server: JobsServer, *args: str) -> Ran:
    """A run against a fakejobs server (entered here); what it was sent as "METHOD path status"."""
    with server:
        done = pytest_run(directory, "--jobs-base-url", server.url, *args)
    sent = [f"{method} {path} {status}" for method, path, status in server.journal]
    return Ran(done.returncode, done.stdout + done.stderr, directory, sent)


class HeadersNoted(JobsServer):
    """fakejobs noting the X-Probe header of every request (None where there was none)."""

    def __init__(self, *violations: Violation) -> None:
        super().__init__(frozenset(violations))
        self.probes: list[str | None] = []

    def _middlewares(self) -> list[Any]:
        return [self._note, *super()._middlewares()]

    @web.middleware
    async def _note(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.probes.append(request.headers.get("X-Probe"))
        response: web.StreamResponse = await handler(request)
        return response


class TlsFront(ThreadedServer):
    """HTTPS on a loopback port in front of a plain-HTTP server, with a self-signed certificate (`cert`)."""

    def __init__(self, upstream: str, directory: Path) -> None:
        super().__init__("tls-front")
        self.upstream = urlsplit(upstream)
        self.cert, key = directory / "cert.pem", directory / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
            + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(self.cert)],
            capture_output=True,
            check=True,
            timeout=60,
        )
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(self.cert, key)
        self.url = ""

    async def _start(self) -> None:
        self._relays: set[asyncio.Task[None]] = set()
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0, ssl=self._context)
        self.url = f"https://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _stop(self) -> None:
        self._server.close()
        for relay in self._relays:
            relay.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)

    async def _relay(self, client: asyncio.StreamReader, answer: asyncio.StreamWriter) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        self._relays.add(relay)
        try:
            reader, writer = await asyncio.open_connection(self.upstream.hostname, self.upstream.port)
            await asyncio.gather(_pipe(client, writer), _pipe(reader, answer))
        finally:
            answer.close()
            self._relays.discard(relay)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass  # the other end went away
    finally:
        writer.close()


def through_tls(directory: Path, *args: str) -> Ran:
    """A run against the mock behind a TLS front; `CERT` in `args` stands for the front's certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate with")
    # A CA bundle the environment names, as on many CI machines: requests let it override --insecure and --cacert.
    bundle = {"REQUESTS_CA_BUNDLE": requests.certs.where()}
    with LiveMock(config=FROZEN) as mock, TlsFront(mock.url, directory) as front:
        argv = [a.replace("CERT", str(front.cert)) for a in args]
        done = pytest_run(directory, "--jobs-base-url", front.url, *argv, env=bundle)
        sent = [f"{entry['method']} {entry['operationId']} {entry['status']}" for entry in mock.calls()]
    return Ran(done.returncode, done.stdout + done.stderr, directory, sent)


def _refusals_409_and_a_header(directory: Path) -> Ran:
    """Against a server refusing with 409, with a spec copy that says so; every request with a header of ours."""

    def refuse_with_409(spec: dict[str, Any]) -> None:
        for refusal in spec["x-job-lifecycle"]["refusals"]:
            refusal["status"] = 409
        for path in ("/@jobs/{id}/abort", "/@jobs/{id}/retry"):  # a copy documents what its lifecycle answers
            responses = spec["paths"][path]["post"]["responses"]
            responses["409"] = responses.pop("400")

    server = HeadersNoted(Violation.REFUSAL_409)
    argv = ["--jobs-spec", str(spec_copy(directory, refuse_with_409)), "--jobs-header", "X-Probe: sent"]
    argv += ["--jobs-phases", "lifecycle", "--jobs-fixtures", "mock", "--jobs-timeout", "2"]
    ran = on_server(directory, server, *argv, "--jobs-report", "report.json")
    ran.noted = server.probes
    return ran


def _read_only_schema(directory: Path) -> Ran:
    """Every phase read-only, the schema phase's examples few and its processes three (a probe notes what the pool
    is asked for), Hypothesis's cache in a directory of its own."""
    (directory / "probe.py").write_text(PROBE)
    path = os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")]))
    env = {"PYTHONPATH": path, "JOBS_TEST_PROBE": str(directory / "processes")}
    argv = ["--jobs-read-only", "--jobs-max-examples", "1", "--jobs-processes", "3", "--jobs-timeout", "1"]
    return on_mock(directory, *argv, "-p", "probe", env={**env, "XDG_CACHE_HOME": str(directory / "cache")})


AUTH, LIFECYCLE, BOTH = ("--jobs-phases", "auth"), ("--jobs-phases", "lifecycle"), ("--jobs-phases", "auth,lifecycle")
RUNS: dict[str, Callable[[Path], Ran]] = {
    "auth and lifecycle, gated": lambda d: on_mock(
        d, *BOTH, "--jobs-timeout", "1", "--jobs-require", "all", "--junitxml=junit.xml", "-rfs"
    ),
    "a spec copy, a header": _refusals_409_and_a_header,
    "as editor": lambda d: on_mock(d, "--jobs-login", "editor", "--jobs-password", "editor123", *AUTH),
    "a wrong password": lambda d: on_mock(d, "--jobs-password", "wrong", *AUTH),
    "a token": lambda d: on_mock(d, "--jobs-token", "TOKEN", *BOTH, "--jobs-timeout", "1", "-rs"),
    "their users and secret, every report": lambda d: on_mock(
        d,
        *(*FORBIDDEN, "--jobs-jwt-secret", OTHER_SECRET, *AUTH),
        *("--jobs-seed", "12345", "--jobs-workers", "3", "--jobs-junit", "junit.xml", "--jobs-report", "report.json"),
        *("--jobs-markdown", "report.md", "--jobs-html", "report.html", "-v"),
        config=MockConfig(frozen=True, secret=OTHER_SECRET),
    ),
    "mock fixtures": lambda d: on_mock(
        d,
        *("--jobs-fixtures", "mock", "--jobs-mock-token", CONTROL_TOKEN, *LIFECYCLE),
        *("--jobs-timeout", "2", "--jobs-report", "report.json"),
        config=MockConfig(seed=7, control_token=CONTROL_TOKEN),
    ),
    "read-only": _read_only_schema,
    "destructive": lambda d: on_mock(
        d, "--jobs-allow-destructive", *LIFECYCLE, "--jobs-timeout", "1", "--jobs-report", "report.json"
    ),
    "small answers": lambda d: on_mock(d, "--jobs-max-response-bytes", "100", *AUTH),
    "a deadline": lambda d: on_mock(d, "--jobs-deadline", "1", *BOTH, "--jobs-timeout", "5"),
    "tls, insecure": lambda d: through_tls(d, "--jobs-insecure", *AUTH, "-W", "error"),
    "tls, a ca": lambda d: through_tls(d, "--jobs-cacert", "CERT", *AUTH),
}


class Runs:
    """The runs of RUNS, each made once in a test session when a case first asks for it: under -n, by the first
    worker to ask, the others reading what it recorded (a lock for each run)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def __getitem__(self, name: str) -> Ran:
        directory = self._root / f"plugin-run-{''.join(c for c in name if c.isalnum())}"
        record = directory / "ran.json"
        with open(f"{directory}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not record.exists():
                directory.mkdir(exist_ok=True)
                ran = RUNS[name](directory)
                record.write_text(json.dumps({**vars(ran), "directory": str(ran.directory)}))
        fields = json.loads(record.read_text())
        return Ran(**{**fields, "directory": Path(fields["directory"])})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The session's runs, kept where every worker of it finds them (the workers' temporary folders' parent)."""
    shared = tmp_path_factory.getbasetemp()
    return Runs(shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared)


def _reached(ran: Ran) -> None:
    assert ran.sent[0].startswith("GET None"), ran.sent  # GET / of the URL given, first


def _only_its_phases(ran: Ran) -> None:
    names = {case.get("classname", "").removeprefix("jobs-conformance.") for case in ran.junit()}
    assert names == {"reachability", "auth", "lifecycle", "coverage"}, names


def _gated(ran: Ran) -> None:
    assert ran.code == 1 and "1 failed" in ran.output and "FAILED ::test_conformance[coverage:require]" in ran.output
    assert "coverage below --jobs-require all: " in ran.output and "lifecycle: refusal_answer" in ran.output


def _timed_out(ran: Ran) -> None:
    assert "no job went from running to completed within 1 s" in ran.output


def _checked_against_the_copy(ran: Ran) -> None:
    assert ran.code == 0, ran.output[-3000:]
    assert ran.outcomes("refusal_answer") == {"passed"}  # 409s, as the copy says; the packaged spec says 400


def _headed(ran: Ran) -> None:
    assert ran.noted and set(ran.noted) == {"sent"}, ran.noted


def _logged_in_as_editor(ran: Ran) -> None:
    assert "POST login 200" in ran.sent and "GET getJobs 403" in ran.sent, ran.sent
    assert ran.code == 1 and "they must belong to a user who may manage jobs" in ran.output


def _wrong_password(ran: Ran) -> None:
    assert ran.code == 1 and "passed" not in ran.output
    assert "login as 'admin' failed: POST /@login answered 401" in ran.output
    assert "check --jobs-login/--jobs-password" in ran.output


def _no_login(ran: Ran) -> None:
    assert ran.code == 0, ran.output[-3000:]
    assert not [line for line in ran.sent if line.startswith("POST login")], ran.sent
    assert "--jobs-token given" in ran.output


def _forbidden_user(ran: Ran) -> None:
    assert ran.outcomes("auth_forbidden_user") == {"passed"}


def _signed_with_their_secret(ran: Ran) -> None:
    assert ran.code == 0, ran.output[-3000:]
    for name in ("auth_expired_token", "auth_unknown_user_token", "auth_never_issued_token"):
        assert ran.outcomes(name) == {"passed"}, name
    written = [ran.output, *(path.read_text() for path in ran.directory.glob("*.*"))]
    assert not [text for text in written if OTHER_SECRET in text], "the secret was printed"


def _seeded(ran: Ran) -> None:
    assert ran.report()["seed"] == 12345


def _workers_accepted(ran: Ran) -> None:
    assert ran.code == 0, ran.output[-3000:]  # no effect by design: kept so that existing command lines run


def _junit_written(ran: Ran) -> None:
    assert {case.get("classname") for case in ran.junit()} == {"jobs-conformance.reachability", "jobs-conformance.auth"}


def _json_written(ran: Ran) -> None:
    assert ran.report()["exit_code"] == 0


def _markdown_written(ran: Ran) -> None:
    assert (ran.directory / "report.md").read_text().startswith("# ")


def _html_written(ran: Ran) -> None:
    assert "<html" in (ran.directory / "report.html").read_text()


def _mock_fixtures(ran: Ran) -> None:
    assert ran.code == 0, ran.output[-3000:]
    for name in ("transition_answer", "refusal_answer", "deletion_is_final", "worker_follows_lifecycle"):
        assert ran.outcomes(name) == {"passed"}, name


def _control_token(ran: Ran) -> None:
    assert ran.report()["error"] == "" and "answered 401" not in ran.output


def _read_only(ran: Ran) -> None:
    assert ran.code == 0, ran.output[-3000:]
    changes = [line for line in ran.sent if not line.startswith(("GET ", "POST login "))]
    assert changes == [], changes


def _few_examples(ran: Ran) -> None:
    lists = [line for line in ran.sent if line.startswith("GET getJobs")]
    assert 0 < len(lists) < 50, len(lists)  # 100 examples: hundreds


def _three_processes(ran: Ran) -> None:
    assert (ran.directory / "processes").read_text() == "3"


def _destructive(ran: Ran) -> None:
    assert [line for line in ran.sent if line.startswith("DELETE deleteJob 204")], ran.sent  # a job it did not make
    assert "passed" in ran.outcomes("deletion_answer")


def _capped(ran: Ran) -> None:
    assert ran.code == 1 and "the response is larger than 100 bytes" in ran.output


def _stopped_in_time(ran: Ran) -> None:
    assert ran.code == 1 and "the run's time is up (--jobs-deadline 1 s)" in ran.output


def _over_tls(ran: Ran) -> None:
    assert ran.code == 0, ran.output[-3000:]
    assert "GET getJobs 200" in ran.sent and "InsecureRequestWarning" not in ran.output  # asked for: no warning


@dataclass(frozen=True)
class Case:
    """What one option does through the plugin: the run that shows it, what to look for, and the value it refuses
    (the argv, and the usage error's words)."""

    run: str
    effect: Callable[[Ran], None]
    refused: tuple[tuple[str, ...], str] | None = None


GATED, SPEC, THEIRS = "auth and lifecycle, gated", "a spec copy, a header", "their users and secret, every report"
CASES: dict[str, Case] = {
    "base_url": Case(
        GATED, _reached, (("--jobs-base-url", "localhost:8080"), "must be an http(s) URL, not 'localhost:8080': did")
    ),
    "spec": Case(SPEC, _checked_against_the_copy, (("--jobs-spec", "missing.yaml"), "--jobs-spec: cannot read")),
    "login": Case("as editor", _logged_in_as_editor),
    "password": Case("a wrong password", _wrong_password),
    "token": Case("a token", _no_login),
    "forbidden_login": Case(THEIRS, _forbidden_user),
    "forbidden_password": Case(THEIRS, _forbidden_user),
    "jwt_secret": Case(THEIRS, _signed_with_their_secret),
    "fixtures": Case("mock fixtures", _mock_fixtures, (("--jobs-fixtures", "magic"), "--jobs-fixtures: must be mock")),
    "mock_token": Case("mock fixtures", _control_token),
    "read_only": Case("read-only", _read_only, (("--jobs-read-only", "--jobs-allow-destructive"), "contradict each")),
    "allow_destructive": Case("destructive", _destructive),
    "max_examples": Case("read-only", _few_examples, (("--jobs-max-examples", "0"), "--jobs-max-examples: must be")),
    "seed": Case(THEIRS, _seeded, (("--jobs-seed", "soon"), "--jobs-seed: not a number")),
    "workers": Case(THEIRS, _workers_accepted, (("--jobs-workers", "0"), "--jobs-workers: must be at least 1")),
    "processes": Case("read-only", _three_processes, (("--jobs-processes", "0"), "--jobs-processes: must be at least")),
    "timeout": Case(GATED, _timed_out, (("--jobs-timeout", "0"), "--jobs-timeout: must be a positive number")),
    "deadline": Case("a deadline", _stopped_in_time, (("--jobs-deadline", "0"), "--jobs-deadline: must be a positive")),
    "max_response_bytes": Case(
        "small answers", _capped, (("--jobs-max-response-bytes", "0"), "--jobs-max-response-bytes: must be at least 1")
    ),
    "phases": Case(GATED, _only_its_phases, (("--jobs-phases", "auth,nope"), "unknown phases ['nope']")),
    "require": Case(GATED, _gated, (("--jobs-require", "most"), "--jobs-require: must be all, cells")),
    "header": Case(SPEC, _headed, (("--jobs-header", "no colon"), "--jobs-header: must be 'Name: value'")),
    "insecure": Case("tls, insecure", _over_tls, (("--jobs-insecure", "--jobs-cacert", "ca.pem"), "contradict each")),
    "cacert": Case("tls, a ca", _over_tls, (("--jobs-cacert", "missing.pem"), "--jobs-cacert: no such file")),
    "junit": Case(THEIRS, _junit_written),
    "report": Case(THEIRS, _json_written),
    "markdown": Case(THEIRS, _markdown_written),
    "html": Case(THEIRS, _html_written),
}


@pytest.mark.parametrize("option", [pytest.param(option, id=option.name) for option in OPTIONS])
def test_every_option_takes_effect_through_the_plugin_and_a_wrong_value_is_a_usage_error(
    option: Option, runs: Runs, tmp_path: Path
) -> None:
    """Issue 28, item 3: the plugin enforces every option its CLI twin enforces."""
    case = CASES.get(option.name)
    assert case is not None, f"no case shows what --jobs-{option.name.replace('_', '-')} does: add one to CASES"
    case.effect(runs[case.run])
    if case.refused is not None:
        argv, message = case.refused
        url = [] if "--jobs-base-url" in argv else ["--jobs-base-url", "http://127.0.0.1:1"]
        refused = pytest_run(tmp_path, *url, *argv)
        assert refused.returncode == 4, refused.stdout + refused.stderr  # pytest's usage error
        assert refused.stderr.count(message) == 1, refused.stderr  # said once, in one line
        assert len(refused.stderr.strip().splitlines()) == 1 and refused.stdout == "", refused.stderr


# --- what a run leaves ---------------------------------------------------------------------------------------------


def test_junit__every_case_names_its_phase_and_lasts_the_time_spent_on_its_check(runs: Runs) -> None:
    """Issue 28, item 3: all of a run's time landed on the first test's duration, and every class name was empty."""
    ran = runs[GATED]
    cases = {case.get("name", ""): case for case in ran.junit()}
    for name, case in cases.items():
        phase = name.removeprefix("test_conformance[").split(":", 1)[0]
        assert case.get("classname") == f"jobs-conformance.{phase}", (name, case.get("classname"))
    seconds = {name: float(case.get("time", "0")) for name, case in cases.items()}
    watched = seconds["test_conformance[lifecycle:worker_follows_lifecycle]"]
    assert watched >= 0.9, seconds  # the worker watched for --jobs-timeout 1
    first = next(name for name in cases if "[lifecycle:" in name)  # the test the lifecycle phase ran in
    assert seconds[first] < watched / 2, seconds
    assert seconds["test_conformance[reachability:reachable and logged in]"] < watched / 2, seconds  # the first test


def test_a_run_leaves_no_hypothesis_directory_where_it_started(runs: Runs) -> None:
    """Issue 28, item 4: every run left `.hypothesis/` in the current directory; its files go to the cache."""
    ran = runs["read-only"]
    assert ran.code == 0, ran.output[-3000:]
    assert not (ran.directory / ".hypothesis").exists()
    assert (ran.directory / "cache" / "jobs-conformance" / "hypothesis").is_dir()  # $XDG_CACHE_HOME/...
