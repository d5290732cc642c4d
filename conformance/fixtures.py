"""Where jobs in a given state come from: the mock's control API, a user's command, or existing jobs."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any, Protocol

from conformance.client import Client, SetupError
from conformance.options import MOCK_TOKEN_ENV, Options
from jobspec import Lifecycle

HOLD = 86400.0  # seconds in a state: long enough that the mock's worker never moves a held job
QUICK = 0.3  # seconds in each state: a job the worker runs through while the suite watches
OUTCOME_ENV = "JOBS_CONFORMANCE_OUTCOME"  # tells a fixture command the job should run soon, ending in this state


class Unavailable(Exception):
    """No job in the wanted state is at hand (a limit the user chose); the message says why and what to pass."""


class FixtureError(SetupError):
    """The fixture source failed (a command that fails, a control API that refuses): the run cannot go on."""


class Fixtures(Protocol):
    """A source of jobs the suite may change."""

    name: str
    owned: set[str]
    timed: bool  # its moving jobs keep the timings and outcomes asked for: one that does not end so is a failure

    def obtain(self, state: str) -> str:
        """The id of a job in `state` that the suite may act on; Unavailable otherwise."""

    def moving(self, lifecycle: Lifecycle) -> dict[str, str | None]:
        """Jobs the worker will move soon, for the worker watch (may be none): id -> the state asked for
        it to end in (None: the worker's choice)."""

    def forbidden_token(self) -> str | None:
        """A token of a user who may not manage jobs, when the source can make one."""


class MockFixtures:
    """Jobs (and a user who may not manage them) made through the mock's control API under `/__mock__/`."""

    name = "mock"

    def __init__(
        self, client: Client, lifecycle: Lifecycle, id_field: str, control_token: str | None, token_flag: str
    ) -> None:
        self.client = client
        self.lifecycle = lifecycle
        self.id_field = id_field
        self.headers = {"X-Mock-Token": control_token} if control_token else {}
        self.token_flag = token_flag
        self.owned: set[str] = set()
        self.timed = True  # the mock honours `params.mock`, unless its clock is frozen (see `moving`)
        self.control_base = client.base_url
        if control_token:
            client.keep_secret(control_token, "MOCK_TOKEN")

    def _control(self, path: str, body: dict[str, Any], wanted: str) -> dict[str, Any]:
        # The control API under --base-url (a mock behind a proxy's path prefix), or else at the server's
        # root (a base URL with one of Nick's content paths, /news); the first place that answers is kept.
        exchange = self.client.call(
            "POST", f"{self.control_base}/__mock__/{path}", token=None, body=body, headers=self.headers
        )
        if exchange.response.status == 404 and self.control_base != self.client.origin:
            retry = self.client.call(
                "POST", f"{self.client.origin}/__mock__/{path}", token=None, body=body, headers=self.headers
            )
            if retry.response.status != 404:
                self.control_base, exchange = self.client.origin, retry
        response = exchange.response
        if response.status == 201 and isinstance(response.data, dict) and isinstance(response.data.get(wanted), str):
            return response.data
        hint = ""
        if response.status in (401, 403):
            hint = f"; pass the mock's --control-token as {self.token_flag} (or ${MOCK_TOKEN_ENV})"
        elif response.status in (404, 405):
            hint = "; is it jobs-mock with its control API on (not --no-control)?"
        raise FixtureError(
            f"--fixtures mock: the mock's control API answered {response.received} to POST /__mock__/{path}: "
            f"{response.body[:200]}{hint}"
        )

    def obtain(self, state: str) -> str:
        """A new job held in `state`."""
        body = {self.lifecycle.status_field: state, "params": {"mock": timings(self.lifecycle, HOLD)}}
        job_id: str = self._control("jobs", body, self.id_field)[self.id_field]
        self.owned.add(job_id)
        return job_id

    def moving(self, lifecycle: Lifecycle) -> dict[str, str | None]:
        """One quick job for every way the worker can end a job (the mock's `outcome` names its state),
        and one left to the worker's own choice."""
        clock = self.client.call("GET", "/__mock__/clock", token=None, headers=self.headers).response
        frozen = clock.data.get("frozen") if clock.status == 200 and isinstance(clock.data, dict) else False
        self.timed = frozen is not True  # a frozen mock (`jobs-mock --frozen`) moves no job by itself
        made: dict[str, str | None] = {}
        for end in [*lifecycle.worker_ends(), None]:
            quick: dict[str, Any] = timings(lifecycle, QUICK) | ({"outcome": end} if end else {})
            body = {lifecycle.status_field: lifecycle.initial, "params": {"mock": quick}}
            job_id = self._control("jobs", body, self.id_field)[self.id_field]
            self.owned.add(job_id)
            made[job_id] = end
        return made

    def forbidden_token(self) -> str | None:
        """A new user of the mock who may not manage jobs, and its token."""
        try:
            token: str = self._control("tokens", {"manageJobs": False}, "token")["token"]
        except FixtureError as exc:
            if "answered 404" not in str(exc) and "answered 405" not in str(exc):
                raise
            return None  # an older mock without POST /__mock__/tokens: the caller falls back
        self.client.keep_secret(token, "FORBIDDEN_TOKEN")
        return token


class CommandFixtures:
    """Jobs made by a user's command: `CMD STATE` prints the new job's id on its last line."""

    name = "command"
    timed = False  # a command may not be able to make a job run soon, nor choose how it ends

    def __init__(self, command: str, timeout: float) -> None:
        if not command.strip():
            raise SetupError("--fixtures command: needs a command, e.g. --fixtures 'command:./make-job.sh'")
        self.command = command
        self.timeout = timeout
        self.owned: set[str] = set()

    def obtain(self, state: str, outcome: str | None = None) -> str:
        """Run the command with `state` appended; its last stdout line is the job's id."""
        line = f"{self.command} {shlex.quote(state)}"
        env = {**os.environ, OUTCOME_ENV: outcome} if outcome else None
        try:
            run = subprocess.run(
                line, shell=True, capture_output=True, text=True, timeout=self.timeout, check=False, env=env
            )
        except subprocess.TimeoutExpired:
            raise FixtureError(f"--fixtures command: `{line}` did not finish within {self.timeout:g} s") from None
        lines = run.stdout.strip().splitlines()
        if run.returncode != 0 or not lines:
            problem = f"exited with {run.returncode}" if run.returncode else "printed no job id"
            stderr = run.stderr.strip()[-500:] or "(empty)"
            raise FixtureError(f"--fixtures command: `{line}` {problem}; its stderr: {stderr}")
        job_id = lines[-1].strip()
        self.owned.add(job_id)
        return job_id

    def moving(self, lifecycle: Lifecycle) -> dict[str, str | None]:
        """New jobs in the initial state, with $JOBS_CONFORMANCE_OUTCOME naming how each should end soon."""
        return {self.obtain(lifecycle.initial, outcome=end): end for end in lifecycle.worker_ends()}

    def forbidden_token(self) -> str | None:
        """None: a command makes jobs, not users."""
        return None


class ExistingFixtures:
    """Jobs the deployment already has; only handed out when `--allow-destructive` permits it."""

    name = "none"
    timed = False

    def __init__(
        self, client: Client, list_path: str, id_field: str, lifecycle: Lifecycle, *, allow_destructive: bool, hint: str
    ) -> None:
        self.hint = hint
        self.client = client
        self.list_path = list_path
        self.id_field = id_field
        self.lifecycle = lifecycle
        self.allow_destructive = allow_destructive
        self.owned: set[str] = set()  # stays empty: these jobs are the deployment's

    def obtain(self, state: str) -> str:
        """An existing job in `state`, as the list shows now (a job a refusal left alone serves again)."""
        if not self.allow_destructive:
            raise Unavailable(f"acting on an existing {state} job needs {self.hint}")
        data = self.client.call("GET", self.list_path).response.data
        field = self.lifecycle.status_field
        for job in data if isinstance(data, list) else []:
            job_id = job.get(self.id_field) if isinstance(job, dict) else None
            if isinstance(job_id, str) and job.get(field) == state:
                return job_id
        raise Unavailable(f"no {state} job available: {self.hint.split('; or ')[-1]}")

    def moving(self, lifecycle: Lifecycle) -> dict[str, str | None]:
        """Nothing is made: the watch looks at whatever jobs exist."""
        return {}

    def forbidden_token(self) -> str | None:
        """None: the deployment's users are its own."""
        return None


def timings(lifecycle: Lifecycle, seconds: float) -> dict[str, float]:
    """A mock job's `params.mock` that keeps it `seconds` in each state the worker moves jobs from."""
    return {step.setting: seconds for step in lifecycle.worker.values()}


def make_fixtures(options: Options, client: Client, lifecycle: Lifecycle, list_path: str, id_field: str) -> Fixtures:
    """The fixture source `--fixtures` names."""
    value = options.fixtures
    if value == "mock":
        return MockFixtures(client, lifecycle, id_field, options.mock_token, options.flag("mock_token"))
    if value.startswith("command:"):
        return CommandFixtures(value.removeprefix("command:"), options.timeout)
    hint = f"{options.flag('allow_destructive')}; or pass {options.flag('fixtures')} mock / command:CMD"
    return ExistingFixtures(
        client, list_path, id_field, lifecycle, allow_destructive=options.allow_destructive, hint=hint
    )
