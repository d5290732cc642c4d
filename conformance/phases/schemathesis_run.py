"""schemathesis for the schema phase, through its documented Python API only.

One run (`run_task`) covers some operations and some of schemathesis's phases:
- the stateless phases (examples, coverage, fuzzing) through schemathesis's pytest integration:
  `schema.parametrize()` on the tests of `conformance.phases.schemathesis_cases`, collected by a
  `pytest.main` of their own, each case sent with `case.call_and_validate(session=...)`;
- the stateful phase through `schema.as_state_machine()`, run with `Machine.run(settings=...)`.

Every request goes through the suite's bounded session (`conformance.transport`), and every check's
result reaches the suite's results through the schema-scoped `after_validate` hook. A request that
cannot be completed (no answer within the deadline, a body over the cap, a broken connection) is a
failed `schemathesis_error` of its operation, and no more of that operation's cases are sent in that
phase. The guard that keeps schemathesis off jobs the suite does not own runs where each case is sent.
"""

from __future__ import annotations

import copy
import itertools
import os
import shlex
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis.errors import Flaky, HypothesisException, Unsatisfiable
from schemathesis.config import CoveragePhaseConfig, PositiveDataAcceptanceConfig
from schemathesis.errors import FailureGroup, NoLinksFound

from conformance.client import SetupError, request_headers
from conformance.phases.schemathesis_checks import auth_check, job_checks
from conformance.target import Target
from conformance.transport import RateLimited, ResponseTooLarge, bounded_session
from jobspec import Operation, Spec
from jobspec.operations import session_operations as spec_session_operations
from verdicts.exchanges import VARIABLE_PREFIX
from verdicts.results import Finding

PHASE = "schema"
TESTING_PHASES = ("examples", "coverage", "fuzzing", "stateful")
STATEFUL = "stateful"
ERROR = "schemathesis_error"  # the check a case fails when schemathesis could not complete it
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Methods the coverage phase probes on every path even where the spec has no such operation. On a
# path without a job id (`DELETE /@jobs`) the guard cannot point them at an owned job, and a server
# may well bulk-change on them; so only --allow-destructive probes these.
BULK_METHODS = {"delete", "put", "patch"}
# schemathesis's checks of a method a path does not declare: they expect 405 with `Allow`, which Nick never answers.
METHOD_CHECKS = ("unsupported_method", "allow_header_conformance")
# Checks this suite does not run, each with its reason.
EXCLUDED_CHECKS = {
    # It needs two users who own different resources; jobs have no per-user ownership here.
    "object_level_authorization": "jobs are not owned per user",
}
# Built-in checks run in the suite's own version (`schemathesis_checks`), each with its reason.
REPLACED_CHECKS = {
    # Its probes (the request again without credentials) go out on a session of schemathesis's own: unbounded.
    "ignored_auth": "its probes are sent through the suite's bounded session",
}
STEPS = 6  # the most calls in one stateful scenario: schemathesis's own engine default
# A request schemathesis could not complete for lack of a working answer: no more of that operation's cases are sent
# in the phase (each would wait for the same deadline).
UNANSWERED = (requests.Timeout, requests.ConnectionError, ResponseTooLarge)
# The headers that frame an HTTP/1.1 message (RFC 9112) or belong to one connection (RFC 9110, 7.6.1): requests sets
# them from what it sends, never a case's data (see `_unframed`).
FRAMING_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "host", "connection", "keep-alive", "te", "trailer", "upgrade", "expect"}
)
EVENT_STREAM = "text/event-stream"  # an answer schemathesis reads as it comes, for as long as its timeout allows
CASES = "conformance.phases.schemathesis_cases"  # the stateless phases' tests, as pytest imports them
CASES_FILE = Path(__file__).with_name("schemathesis_cases.py")
# pytest for the stateless phases alone: no configuration file, conftest or plugin of the host's (the user's
# `PYTEST_ADDOPTS` neither), no cache or rewritten bytecode left behind, no output.
PYTEST_ARGS = (
    *("-c", os.devnull, "--rootdir", str(CASES_FILE.parent), "--noconftest", "--import-mode=importlib"),
    *("--assert=plain", "--capture=sys", "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:faulthandler"),
    *("-p", "schemathesis", "-p", "hypothesispytest"),  # the two entry points it needs, by name
    # A test that cannot be collected is its operation's error (`_Reporter`), not the end of the run: without this,
    # pytest ends the session with its `Interrupted`, a KeyboardInterrupt, which is no Ctrl-C.
    "--continue-on-collection-errors",
)
PYTEST_ENVIRONMENT = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")  # the host's, kept from the run's pytest
NO_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"

_current: Recording | None = None  # the run whose tests `schemathesis_cases` makes, while its pytest runs


def current() -> Recording:
    """The run in progress, for `schemathesis_cases` as pytest imports it."""
    if _current is None:
        raise RuntimeError(f"{CASES} is collected only by the schema phase's own pytest run")
    return _current


def run_task(target: Target, operations: tuple[str, ...], phases: tuple[str, ...], first: int = 0) -> dict[str, str]:
    """schemathesis's `phases` over `operations`, their results recorded in `target.results`; each phase's status.

    `first`: where this run's turn through the owned jobs starts (runs side by side start at different ones).
    SetupError when the deployment's rate limit is spent (judging its refusals would be no verdict).
    """
    recording = Recording(target, operations, phases, first)
    stateless = tuple(phase for phase in phases if phase != STATEFUL)
    if stateless:
        recording.run_stateless()
    if STATEFUL in phases and recording.limited is None:
        recording.run_stateful()
    if recording.limited is not None:
        raise SetupError(target.client.rate_limited(recording.limited))
    return {phase: recording.tallies[phase].status for phase in phases}


@dataclass
class Tally:
    """What one phase of schemathesis did in a run: its cases, and whether any failed a check or could not be sent."""

    cases: int = 0
    failed: bool = False
    errors: bool = False

    @property
    def status(self) -> str:
        """As schemathesis names a phase's end."""
        if self.errors:
            return "error"
        if self.failed:
            return "failure"
        return "success" if self.cases else "skip"


class GuardRefused(Exception):
    """A request the options forbid (--read-only); never sent."""


class Recording:
    """One schemathesis run for the suite: its schemas, how its cases are sent, and where their results go."""

    def __init__(self, target: Target, operations: tuple[str, ...], phases: tuple[str, ...], first: int) -> None:
        self.target = target
        self.phases = phases
        self.guard = Guard(target, first)
        options = target.options
        verify: bool | str = str(options.cacert) if options.cacert else not options.insecure
        # A session of its own (its cookies are schemathesis's), sending through the suite's bounded adapter.
        headers = tuple(request_headers(options.header).items())
        self.session = bounded_session(target.client.adapter, headers=headers, verify=verify)
        spec = target.spec
        guarded = {label(op) for op in spec.operations.values() if op.needs_auth(spec.security)}
        optional = {label(op) for op in spec.operations.values() if _anonymous_alternative(op, spec.security)}
        auth = auth_check(self.session, guarded, optional, UNANSWERED, lambda exc: _reason(exc, options.timeout))
        self.checks = [*job_checks(spec.lifecycle, target.id_field), auth]
        self.tallies = {phase: Tally() for phase in phases}
        self.unanswered: set[tuple[str, str]] = set()  # (phase, operation): no more of its cases are sent
        self.found: dict[tuple[str, str, str], list[Any]] = {}  # the failures reported, per phase, operation, check
        self.limited: RateLimited | None = None
        self.sending: tuple[str, Any] | None = None  # the phase and case being sent, for the stateful session
        bearer = _bearer(target)
        self.schemas = {phase: self._schema(operations, phase, bearer) for phase in phases}

    def _schema(self, operations: tuple[str, ...], phase: str, bearer: type) -> schemathesis.BaseSchema:
        # schemathesis rewrites the document it is given in place; the loaded spec is shared, so it gets a copy.
        document = copy.deepcopy(self.target.spec.raw)
        config = schemathesis.Config.from_dict(_config(self.target, operations, phase))
        schema = schemathesis.openapi.from_dict(document, config=config)
        schema.auth(refresh_interval=None)(bearer)
        schema.hook("after_validate")(self._after_validate(phase))
        return schema

    # -- the stateless phases ---------------------------------------------------------------------------------

    def stateless_tests(self) -> dict[str, Callable[[Any], None]]:
        """The tests `schemathesis_cases` holds: one per stateless phase, parametrized by schemathesis per operation."""
        tests = {}
        for phase, schema in self.schemas.items():
            if phase != STATEFUL:
                tests[f"test_{phase}"] = schema.parametrize()(self._stateless_test(phase))
        return tests

    def _stateless_test(self, phase: str) -> Callable[[Any], None]:
        def test(case: Any) -> None:
            self.send(phase, case)

        test.__name__ = f"test_{phase}"
        return test

    def send(self, phase: str, case: Any) -> None:
        """One case of a stateless phase: guarded, sent on the bounded session, its checks recorded."""
        if self.limited is not None:
            pytest.skip("the deployment's rate limit is spent")
        operation = case.operation.label
        if (phase, operation) in self.unanswered:
            return
        self.tallies[phase].cases += 1
        try:
            self.guard(case)
            case.call_and_validate(session=self.session, additional_checks=self.checks)
        except FailureGroup:
            pass  # every check's result is recorded by `after_validate`
        except RateLimited as exc:
            self.limited = exc
            pytest.skip("the deployment's rate limit is spent")
        except HypothesisException:
            raise  # Hypothesis's own control flow
        except Exception as exc:  # noqa: BLE001 (whatever kept schemathesis from judging the case is the finding)
            self.error(phase, case, exc)

    def run_stateless(self) -> None:
        """The stateless phases' tests, in a pytest run of their own."""
        global _current
        reporter = _Reporter(self)
        sys.modules.pop(CASES, None)  # pytest would take a module already imported for this run's
        _current = self
        try:
            with _pytest_environment():
                code = pytest.main([*PYTEST_ARGS, str(CASES_FILE)], plugins=[reporter])
        finally:
            _current = None
            sys.modules.pop(CASES, None)
        if reporter.interrupted is not None:
            raise reporter.interrupted  # a Ctrl-C, or the run stopped (RunStopped): the run's to act on
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not reporter.errors:
            self.failed_run(f"schemathesis's pytest run ended with {code!r}")

    # -- the stateful phase -----------------------------------------------------------------------------------

    def run_stateful(self) -> None:
        """Scenarios following the spec's links, as a Hypothesis state machine."""
        recording = self
        schema = self.schemas[STATEFUL]
        session = _StatefulSession(self)
        try:
            base = schema.as_state_machine()
        except NoLinksFound:
            return  # nothing to follow: the phase is skipped

        class Machine(base):  # type: ignore[valid-type, misc]
            def before_call(self, case: Any) -> None:
                recording.before_stateful(case)

            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                return {"session": session}

            def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
                try:
                    super().validate_response(response, case, additional_checks=recording.checks, **kwargs)
                except FailureGroup:
                    pass  # recorded by `after_validate`; the scenario goes on
                except RateLimited as exc:  # a check's own request
                    recording.limited = exc
                    raise _Spent from exc
                except UNANSWERED as exc:  # a check's own request, as in `_StatefulSession`
                    recording.error(STATEFUL, case, exc)
                    hypothesis.reject()

        options = self.target.options
        settings = hypothesis.settings(
            max_examples=options.max_examples,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            phases=[hypothesis.Phase.generate],  # no shrinking: every failure is reported as it is met
            suppress_health_check=list(hypothesis.HealthCheck),
            verbosity=hypothesis.Verbosity.quiet,
        )
        machine = hypothesis.seed(options.seed)(Machine) if options.seed is not None else Machine
        try:
            machine.run(settings=settings)
        except Flaky:
            # A scenario replayed on a deployment that has moved on (jobs ended, deleted by other runs) drew other
            # links: the end of the phase, as schemathesis's own engine takes it, with every result so far kept.
            pass
        except Unsatisfiable:
            if not self.tallies[STATEFUL].errors:  # every scenario dropped for an unanswered request is recorded
                self.failed_run("schemathesis stopped: no stateful scenario could be run")
        except Exception as exc:  # noqa: BLE001 (the phase ends; the run goes on with what it found)
            if self.limited is None:
                self.failed_run(f"schemathesis stopped: {type(exc).__name__}: {exc}")

    def before_stateful(self, case: Any) -> None:
        """The stateful phase's guard; a scenario reaching an operation that could not be answered is dropped."""
        if self.limited is not None:
            raise _Spent
        if (STATEFUL, case.operation.label) in self.unanswered:
            hypothesis.reject()
        self.tallies[STATEFUL].cases += 1
        try:
            self.guard(case)
        except GuardRefused as exc:
            self.error(STATEFUL, case, exc)
            hypothesis.reject()
        self.sending = (STATEFUL, case)

    # -- results ----------------------------------------------------------------------------------------------

    def _after_validate(self, phase: str) -> Callable[[Any, Any, Any, list[Any]], None]:
        def after_validate(ctx: Any, case: Any, response: Any, results: list[Any]) -> None:
            self.record(phase, case, response, results)

        return after_validate

    def record(self, phase: str, case: Any, response: Any, results: list[Any]) -> None:
        """Each check's result on one answer (`schemathesis.CheckResult`): a pass, or a finding once per failure."""
        operation = case.operation.label
        for result in results:
            if result.failure is None:
                self.target.results.passed(PHASE, result.name, operation)
                continue
            self.tallies[phase].failed = True
            found = self.found.setdefault((phase, operation, result.name), [])
            if result.failure in found:  # schemathesis's own identity of a failure: its kind, on one operation
                continue
            found.append(result.failure)
            message = f"{result.failure.title}\n{result.failure.message}".strip()
            finding = Finding(result.name, operation, message, *self._exchange(case, response))
            self.target.results.failed(PHASE, result.name, operation, finding)

    def _exchange(self, case: Any, response: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
        """The request as sent, the answer, and a curl line with the suite's tokens as shell variables."""
        request, headers = self._request(response.request)
        curl = case.as_curl_command(headers=dict(response.request.headers), verify=response.verify)
        if VARIABLE_PREFIX in headers.get("Authorization", ""):
            # schemathesis writes `[Filtered]` for credentials; the suite's own token has a name to use.
            curl = curl.replace("'Authorization: [Filtered]'", f'"Authorization: {headers["Authorization"]}"')
        text = response.content.decode("utf-8", "replace")[:2000] if response.content else ""
        answer = {"status": response.status_code, "headers": _flat(response.headers), "body": text}
        return request, answer, curl

    def _request(self, sent: requests.PreparedRequest) -> tuple[dict[str, Any], dict[str, str]]:
        body = sent.body.decode("utf-8", "replace") if isinstance(sent.body, bytes) else sent.body
        headers = {key: self.target.client.redact(value) for key, value in sent.headers.items()}
        return {"method": sent.method, "url": sent.url, "headers": headers, "body": body}, headers

    def error(self, phase: str, case: Any, exc: Exception) -> None:
        """A case schemathesis could not complete: a finding (once per phase, operation and reason)."""
        operation = case.operation.label
        if isinstance(exc, UNANSWERED):
            self.unanswered.add((phase, operation))
        message = _reason(exc, self.target.options.timeout)
        found = self.found.setdefault((phase, operation, ERROR), [])
        self.tallies[phase].errors = True
        if message in found:
            return
        found.append(message)
        request = None
        sent = getattr(exc, "request", None)
        if isinstance(sent, requests.PreparedRequest):
            request = self._request(sent)[0]
        else:
            sent = None
        finding = Finding(ERROR, operation, message, request, None, _curl(case) if sent is None else _curl_of(request))
        self.target.results.failed(PHASE, ERROR, operation, finding)

    def pytest_error(self, nodeid: str, text: str) -> None:
        """A test pytest reports as failed or errored (not a check: what kept schemathesis from running it)."""
        for phase in self.phases:
            prefix = f"test_{phase}["
            name = nodeid.rpartition("::")[2]
            if name.startswith(prefix) and name.endswith("]"):
                self.tallies[phase].errors = True
                operation = name[len(prefix) : -1]
                self.target.results.failed(PHASE, ERROR, operation, Finding(ERROR, operation, text[-2000:]))
                return
        self.failed_run(text[-2000:])

    def failed_run(self, message: str) -> None:
        """schemathesis stopped for a reason of no single operation's."""
        for tally in self.tallies.values():
            tally.errors = True
        self.target.results.failed(PHASE, ERROR, "run", Finding(ERROR, "run", message))


class _Spent(Exception):
    """Ends the stateful phase once the deployment's rate limit is spent."""


class _StatefulSession(requests.Session):
    """The stateful phase's session (its bounded adapter, headers and TLS): a request that cannot be completed is a
    finding, and its scenario is dropped (`hypothesis.reject`), as a stateless phase sends no more of an operation's
    cases after one."""

    def __init__(self, recording: Recording) -> None:
        super().__init__()
        self.recording = recording
        for prefix, adapter in recording.session.adapters.items():
            self.mount(prefix, adapter)
        self.headers.update(recording.session.headers)
        self.verify = recording.session.verify

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            response = super().request(*args, **kwargs)
            if not response.headers.get("Content-Type", "").startswith(EVENT_STREAM):
                response.content  # noqa: B018 (read here, within the deadline and the cap: schemathesis reads it next)
            return response
        except RateLimited as exc:
            self.recording.limited = exc
            raise
        except UNANSWERED as exc:
            if self.recording.sending is not None:
                phase, case = self.recording.sending
                self.recording.error(phase, case, exc)
            hypothesis.reject()
            raise  # not reached: reject raises


class _Reporter:
    """A pytest plugin for the stateless run: tests that fail are errors of their operation; a Ctrl-C is kept."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.interrupted: KeyboardInterrupt | None = None
        self.errors = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.errors += 1
            self.recording.pytest_error(report.nodeid, report.longreprtext)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors += 1
            self.recording.failed_run(f"schemathesis's tests could not be collected: {report.longreprtext[-2000:]}")

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        stopped = excinfo.value
        self.interrupted = stopped if isinstance(stopped, KeyboardInterrupt) else KeyboardInterrupt()


@contextmanager
def _pytest_environment() -> Iterator[None]:
    """pytest's environment for the stateless run: no plugin of the host's, none of its options."""
    kept = {name: os.environ.pop(name) for name in PYTEST_ENVIRONMENT if name in os.environ}
    autoload = os.environ.get(NO_AUTOLOAD)
    os.environ[NO_AUTOLOAD] = "1"
    try:
        yield
    finally:
        os.environ.update(kept)
        if autoload is None:
            os.environ.pop(NO_AUTOLOAD, None)
        else:
            os.environ[NO_AUTOLOAD] = autoload


def _config(target: Target, operations: tuple[str, ...], phase: str) -> dict[str, Any]:
    """schemathesis's configuration (its documented keys) for one phase over `operations`, with the run's options."""
    options = target.options
    verify: bool | str = str(options.cacert) if options.cacert else not options.insecure
    coverage: dict[str, Any] = {"enabled": phase == "coverage"}
    if options.read_only:
        coverage["unexpected-methods"] = []  # no probing of other methods
    elif not options.allow_destructive:
        coverage["unexpected-methods"] = sorted(set(CoveragePhaseConfig().unexpected_methods) - BULK_METHODS)
    phases: dict[str, Any] = {name: {"enabled": name == phase} for name in TESTING_PHASES}
    phases["coverage"] = coverage
    others = [op for op in target.spec.operations if op not in operations]
    config: dict[str, Any] = {
        "base-url": target.client.base_url,
        "request-timeout": options.timeout,
        "headers": request_headers(options.header),
        "tls-verify": verify,
        "generation": {"max-examples": options.max_examples, "database": "none"},
        "checks": {name: {"enabled": False} for name in (*EXCLUDED_CHECKS, *REPLACED_CHECKS)},
        "phases": phases,
        # Each operation's checks as the spec says; the operations of other runs left out (`enabled = false`).
        "operations": [
            *check_config(target.spec),
            *({"include-operation-id": op, "enabled": False} for op in others),
        ],
    }
    if options.seed is not None:
        config["seed"] = options.seed
    return config


def check_config(spec: Spec) -> list[dict[str, Any]]:
    """schemathesis's checks as the spec says, operation by operation (`[[operations]]` entries).

    - A lifecycle refusal is an answer to a valid request: its status (Nick's is a 400, which
      schemathesis otherwise takes for a rejected valid request) is one `positive_data_acceptance` expects.
    - A method a path does not declare gets 405 with `Allow` only where the spec promises it (a `405`
      documented on the path): elsewhere `unsupported_method` and `allow_header_conformance` do not run.
    """
    refused: dict[str, set[int]] = {}
    for refusal in spec.lifecycle.refusals:
        refused.setdefault(refusal.operation, set()).add(refusal.status)
    accepted = PositiveDataAcceptanceConfig().expected_statuses
    operations = []
    for operation in spec.operations.values():
        checks: dict[str, Any] = {}
        if operation.operation_id in refused:
            statuses = [*accepted, *(str(status) for status in sorted(refused[operation.operation_id]))]
            checks["positive_data_acceptance"] = {"expected-statuses": statuses}
        if not spec.promises_405(operation.path):
            checks.update({name: {"enabled": False} for name in METHOD_CHECKS})
        if checks:
            operations.append({"include-operation-id": operation.operation_id, "checks": checks})
    return operations


def label(operation: Operation) -> str:
    """An operation as schemathesis labels it, and so as this phase's results name it."""
    return f"{operation.method} {operation.path}"


def _anonymous_alternative(operation: Operation, spec_security: list[dict[str, Any]]) -> bool:
    """Whether an operation takes credentials but also goes without (`{}` among its security requirements)."""
    security = operation.definition.get("security", spec_security)
    return any(security) and not all(security)


def session_candidates(spec: Spec, login: str) -> list[Operation]:
    """Operations on the session itself (renew, logout): everything outside the jobs paths but login."""
    jobs_path = spec.operation(spec.lifecycle.removal.listed_by).path
    return [op for op in spec.operations.values() if not op.path.startswith(jobs_path) and op.operation_id != login]


def session_operation_ids(target: Target) -> set[str]:
    """The run's session operations, by operationId."""
    return {op.operation_id for op in session_candidates(target.spec, target.login_operation)}


def _bearer(target: Target) -> type:
    """An auth provider: the suite's token, but a throwaway one for the session operations (renew, logout).

    One throwaway token serves every renewal until a logout takes it: logins count toward a
    deployment's rate limit (Nick: 5 per 15 minutes by default), so none is spent needlessly.
    """
    login_path = target.spec.operation(target.login_operation).path
    options = target.options
    sessions = {label(op) for op in session_candidates(target.spec, target.login_operation)}
    _, renewal, _ = spec_session_operations(target.spec)
    renew = label(renewal) if renewal is not None else None
    spare: list[str] = []

    class Bearer:
        def get(self, case: Any, ctx: Any) -> str | None:
            operation = case.operation.label
            if operation not in sessions:
                return target.client.token
            token = spare.pop() if spare else target.client.login(login_path, options.login, options.password)
            target.client.keep_secret(token, "SESSION_TOKEN")
            if operation == renew:
                spare.append(token)  # a renewal leaves its token valid: the next case may use it too
            return token

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"

    return Bearer


class Guard:
    """Keeps schemathesis off jobs the suite does not own (and off everything under --read-only).

    A request that would act on a job id the suite did not make (a documented example, an id
    taken from the list by a link) acts on the suite's own jobs instead, in turn; with none, on
    an id no job has. The curl line of any finding shows the id actually sent.
    """

    def __init__(self, target: Target, first: int = 0) -> None:
        self.options = target.options
        self.owned = target.fixtures.owned
        self.login_path = target.spec.operation(target.login_operation).path
        self.turn = itertools.count(first)  # runs side by side start at different owned jobs

    def __call__(self, case: Any) -> None:
        _unframed(case)
        method = case.method.upper()
        if self.options.read_only and method not in SAFE_METHODS and case.path != self.login_path:
            raise GuardRefused(f"--read-only: refusing {method} {case.path}")
        if self.options.allow_destructive or method in SAFE_METHODS:
            return
        for name, value in (case.path_parameters or {}).items():
            if isinstance(value, str) and value not in self.owned and _is_uuid(value):
                mine = sorted(self.owned)
                case.path_parameters[name] = mine[next(self.turn) % len(mine)] if mine else _nowhere(value)


def _unframed(case: Any) -> None:
    """The case without the headers that frame the HTTP message itself, which its data may hold (a header of a name
    schemathesis made up may be named `Content-Length`).

    requests sets them from what it sends; one of the case's own makes the request malformed HTTP (a Content-Length
    that is no number, or not the body's), which any server's HTTP parser refuses with a 400 before the API sees it
    (Node's, under Nick, as the mock does): a verdict on the HTTP stack, not on the API, and a correct deployment
    would fail on it.
    """
    headers = case.headers
    if headers:
        for name in [name for name in headers if str(name).lower() in FRAMING_HEADERS]:
            del headers[name]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _nowhere(job_id: str) -> str:
    """An id no job has (derived from the foreign one, so runs repeat)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"jobs-conformance/{job_id}"))


def _reason(exc: Exception, timeout: float) -> str:
    """Why a case could not be completed, as a finding says it."""
    if isinstance(exc, requests.Timeout):
        return f"Network Error: no complete answer within {timeout:g} s (--timeout)"
    if isinstance(exc, ResponseTooLarge):
        return f"Network Error: {exc} (--max-response-bytes)"
    if isinstance(exc, requests.RequestException):
        return f"Network Error: {exc}"
    if isinstance(exc, GuardRefused):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _curl(case: Any) -> str:
    try:
        return str(case.as_curl_command())
    except Exception:  # noqa: BLE001 (a case schemathesis could not send may not make a curl line either)
        return ""


def _curl_of(request: dict[str, Any] | None) -> str:
    """A curl line sending a request as it was sent (its headers as recorded, secrets as shell variables)."""
    if request is None:
        return ""
    parts = [
        "curl",
        "-X",
        request["method"],
        *(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in request["headers"].items()),
    ]
    if request["body"]:
        parts.append(f"-d {shlex.quote(request['body'])}")
    return " ".join([*parts, shlex.quote(request["url"])])


def _flat(headers: Any) -> dict[str, str]:
    return {key: value[0] if isinstance(value, list) and value else str(value) for key, value in headers.items()}
