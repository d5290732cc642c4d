"""Where jobs in a given state come from: the mock's control API, a user's command, or existing jobs."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any, Protocol

from conformance.client import Client, SetupError
from jobspec import Lifecycle

HOLD = 86400  # seconds in a state: long enough that the mock's worker never moves a held job
QUICK = {"delay": 0.2, "duration": 0.4}  # seconds: a job the worker runs through while the suite watches
MOCK_TOKEN_ENV = "JOBS_MOCK_TOKEN"  # the mock's --control-token, when it was started with one
OUTCOME_ENV = "JOBS_CONFORMANCE_OUTCOME"  # tells a fixture command the job should run soon, ending in this state


class Unavailable(Exception):
    """No job in the wanted state could be obtained; the message says why (and what to pass)."""


class Fixtures(Protocol):
    """A source of jobs the suite may change."""

    name: str
    owned: set[str]

    def obtain(self, state: str) -> str:
        """The id of a job in `state` that the suite may act on; Unavailable otherwise."""

    def moving(self, lifecycle: Lifecycle) -> list[str]:
        """Ids of jobs the worker will move soon, for the worker watch (may be empty)."""


class MockFixtures:
    """Jobs made through the mock's control API (`POST /__mock__/jobs`)."""

    name = "mock"

    def __init__(self, client: Client, id_field: str, control_token: str | None = None) -> None:
        self.client = client
        self.id_field = id_field
        self.headers = {"X-Mock-Token": control_token} if control_token else {}
        self.owned: set[str] = set()

    def _create(self, body: dict[str, Any]) -> str:
        exchange = self.client.call("POST", "/__mock__/jobs", token=None, body=body, headers=self.headers)
        data = exchange.response.data
        job_id = data.get(self.id_field) if isinstance(data, dict) else None
        if exchange.response.status != 201 or not isinstance(job_id, str):
            raise Unavailable(
                f"the mock's control API answered {exchange.response.status} to POST /__mock__/jobs: "
                f"{exchange.response.body[:200]}"
            )
        self.owned.add(job_id)
        return job_id

    def obtain(self, state: str) -> str:
        """A new job held in `state`."""
        return self._create({"status": state, "params": {"mock": {"delay": HOLD, "duration": HOLD}}})

    def moving(self, lifecycle: Lifecycle) -> list[str]:
        """One quick job for every way the worker can end a job (the mock's `outcome` names its state)."""
        made = []
        for end in worker_ends(lifecycle):
            body = {"status": lifecycle.initial, "params": {"mock": {**QUICK, "outcome": end}}}
            try:
                made.append(self._create(body))
            except Unavailable:
                continue
        return made


class CommandFixtures:
    """Jobs made by a user's command: `CMD STATE` prints the new job's id on its last line."""

    name = "command"

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
            raise Unavailable(f"`{line}` did not finish within {self.timeout:g} s") from None
        lines = run.stdout.strip().splitlines()
        if run.returncode != 0 or not lines:
            problem = f"exited with {run.returncode}" if run.returncode else "printed nothing"
            raise Unavailable(f"`{line}` {problem}; its stderr: {run.stderr.strip()[-500:] or '(empty)'}")
        job_id = lines[-1].strip()
        self.owned.add(job_id)
        return job_id

    def moving(self, lifecycle: Lifecycle) -> list[str]:
        """New jobs in the initial state, with $JOBS_CONFORMANCE_OUTCOME naming how each should end soon."""
        made = []
        for end in worker_ends(lifecycle):
            try:
                made.append(self.obtain(lifecycle.initial, outcome=end))
            except Unavailable:
                continue
        return made


class ExistingFixtures:
    """Jobs the deployment already has; only handed out when `--allow-destructive` permits it."""

    name = "none"

    def __init__(self, client: Client, list_path: str, id_field: str, lifecycle: Lifecycle, *, allow_destructive: bool):
        self.client = client
        self.list_path = list_path
        self.id_field = id_field
        self.lifecycle = lifecycle
        self.allow_destructive = allow_destructive
        self.owned: set[str] = set()  # stays empty: these jobs are the deployment's

    def obtain(self, state: str) -> str:
        """An existing job in `state`, as the list shows now (a job a refusal left alone serves again)."""
        if not self.allow_destructive:
            raise Unavailable(
                f"acting on an existing {state} job needs --allow-destructive; "
                "or pass --fixtures mock / --fixtures command:CMD"
            )
        data = self.client.call("GET", self.list_path).response.data
        field = self.lifecycle.status_field
        for job in data if isinstance(data, list) else []:
            job_id = job.get(self.id_field) if isinstance(job, dict) else None
            if isinstance(job_id, str) and job.get(field) == state:
                return job_id
        raise Unavailable(f"no {state} job available: pass --fixtures mock or --fixtures command:CMD")

    def moving(self, lifecycle: Lifecycle) -> list[str]:
        """Nothing is made: the watch looks at whatever jobs exist."""
        return []


def worker_ends(lifecycle: Lifecycle) -> list[str]:
    """The terminal states the worker itself can end a job in."""
    return sorted({t.target for t in lifecycle.transitions if t.trigger.is_worker and t.target in lifecycle.terminal})


def make_fixtures(
    value: str,
    client: Client,
    lifecycle: Lifecycle,
    list_path: str,
    id_field: str,
    *,
    destructive: bool,
    timeout: float,
) -> Fixtures:
    """The fixture source a `--fixtures` value names."""
    if value == "mock":
        return MockFixtures(client, id_field, os.environ.get(MOCK_TOKEN_ENV))
    if value.startswith("command:"):
        return CommandFixtures(value.removeprefix("command:"), timeout)
    if value == "none":
        return ExistingFixtures(client, list_path, id_field, lifecycle, allow_destructive=destructive)
    raise SetupError(f"--fixtures must be mock, none or command:CMD, not {value!r}")
