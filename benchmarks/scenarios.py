"""The load scenarios: one request shape each, driven against the bare route and the mock alike."""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks import jobs as job_data
from benchmarks import servers
from benchmarks.load import Generator, Load, LoadResult
from benchmarks.machine import CpuSample
from jobspec import Refusal, load_spec

LOGIN_BODY = json.dumps({"login": "admin", "password": "admin"})
NEW_JOB_BODY = json.dumps({"title": "Benchmark job", "params": {"mock": {"delay": 86400}}})
SERVERS = ("bare", "mock")
# More requests/s than any server reaches here: sizes the running jobs `abort` uses up in one run.
CEILING_RPS = 30_000
SYNCED_JOBS = 10_000  # the jobs a scenario with --state-sync always runs over


@dataclass(frozen=True)
class Scenario:
    """One request shape, the jobs it runs over, and the target the mock must meet on it."""

    name: str
    title: str
    method: str
    path: str  # "{id}" walks through the jobs' ids
    jobs: int
    state: str | None = None  # every job in this state; all states in turn when None
    body: str = ""
    auth: bool = True
    consumes: bool = False  # each request uses its job up (abort): distinct ids, data reset between runs
    connections: int | None = None  # instead of --connections
    target_ratio: float | None = None  # mock requests/s at least this fraction of the bare route's
    target_p99: float | None = None  # mock p99 latency at most this multiple of the bare route's
    state_sync: str | None = None  # run the mock with a --state-file and this --state-sync; reset between runs
    fresh_tokens: bool = False  # each request presents a token never used before (logout uses them up)
    restored: bool = False  # the mock restarted from a state file of these jobs, as after a crash or a deploy


@dataclass(frozen=True)
class Settings:
    """How hard and how long to drive each scenario, and with what."""

    generator_name: str
    generator: Generator
    workdir: Path
    duration: float = 5.0
    runs: int = 3
    warmup: float = 1.0
    connections: int = 32
    servers: tuple[str, ...] = SERVERS
    quick: bool = False
    nice: int = 0
    mock_options: tuple[str, ...] = ()  # extra `jobs-mock` options, e.g. ("--strict",)


READS, CHANGES, P99 = 0.65, 0.6, 2.0  # issue 14: reads at 65% of the bare route, every other load at 60%; p99 ≤ 2×
UNSTEADY = 0.15  # a server's runs of one scenario spreading wider than this (of their median) are worth a note


def catalogue(quick: bool = False) -> list[Scenario]:
    """The scenarios: every operation of the jobs API under load, the cost of --state-sync, and memory."""
    large = 1_000 if quick else 10_000
    huge = 10_000 if quick else 100_000
    return [
        Scenario("get-job", "GET /@jobs/{id}", "GET", "/@jobs/{id}", jobs=100, target_ratio=READS, target_p99=P99),
        Scenario("list-small", "GET /@jobs (100 jobs)", "GET", "/@jobs", jobs=100, target_ratio=READS, target_p99=P99),
        Scenario(
            "list-large",
            f"GET /@jobs ({large:,} jobs)",
            "GET",
            "/@jobs",
            jobs=large,
            target_ratio=READS,
            target_p99=P99,
        ),
        _consuming("abort", "abortJob", "POST", "/@jobs/{id}/abort"),
        _consuming("retry", "retryJob", "POST", "/@jobs/{id}/retry"),
        _consuming("delete", "deleteJob", "DELETE", "/@jobs/{id}"),
        # What --state-sync always costs on a transition: the abort above, with every change on disk before its answer.
        _consuming(
            "abort-synced",
            "abortJob",
            "POST",
            "/@jobs/{id}/abort",
            state_sync="always",
            title_suffix=", --state-sync always",
        ),
        Scenario(
            "login",
            "POST /@login",
            "POST",
            "/@login",
            jobs=100,
            body=LOGIN_BODY,
            auth=False,
            target_ratio=CHANGES,
            target_p99=P99,
        ),
        Scenario(
            "renew", "POST /@login-renew", "POST", "/@login-renew", jobs=100, target_ratio=CHANGES, target_p99=P99
        ),
        Scenario(
            "logout",
            "POST /@logout (a new token each)",
            "POST",
            "/@logout",
            jobs=100,
            consumes=True,
            fresh_tokens=True,
            target_ratio=CHANGES,
            target_p99=P99,
        ),
        # The control API's create, with the state saved four times a second or before every answer.
        Scenario(
            "create",
            "POST /__mock__/jobs, --state-sync interval",
            "POST",
            "/__mock__/jobs",
            jobs=100,
            body=NEW_JOB_BODY,
            auth=False,
            state_sync="interval",
        ),
        Scenario(
            "create-synced",
            "POST /__mock__/jobs, --state-sync always",
            "POST",
            "/__mock__/jobs",
            jobs=100,
            body=NEW_JOB_BODY,
            auth=False,
            state_sync="always",
        ),
        Scenario("memory", f"GET /@jobs ({huge:,} jobs, 1 connection)", "GET", "/@jobs", jobs=huge, connections=1),
        Scenario(
            "memory-restored",
            f"GET /@jobs ({huge:,} jobs, 1 connection), the mock restarted from its state file",
            "GET",
            "/@jobs",
            jobs=huge,
            connections=1,
            restored=True,
        ),
    ]


def _consuming(
    name: str, operation: str, method: str, path: str, *, title_suffix: str = "", state_sync: str | None = None
) -> Scenario:
    """A scenario whose every request uses its job up: the jobs held in a state where `operation` acts.

    With `state_sync`, the cost of saving is what is measured: no target.
    """
    state = acting_state(operation)
    targets = (CHANGES, P99) if state_sync is None else (None, None)
    # Saving before every answer writes the whole store: it is measured over 10,000 jobs, not the 150,000
    # a run at full speed would use up (see Contender._data_size), or it would measure the store's size.
    jobs = 1_000 if state_sync is None else SYNCED_JOBS
    return Scenario(
        name,
        f"{method} {path} ({state}{', ' + format(jobs, ',') + ' jobs' if state_sync else ''}){title_suffix}",
        method,
        path,
        jobs=jobs,
        state=state,
        consumes=True,
        target_ratio=targets[0],
        target_p99=targets[1],
        state_sync=state_sync,
    )


def acting_state(operation: str) -> str:
    """The first state of the packaged spec's lifecycle in which `operation` fires a transition or removes the job."""
    lifecycle = load_spec().lifecycle
    return next(state for state in lifecycle.states if not isinstance(lifecycle.outcome(operation, state), Refusal))


@dataclass
class ServerRuns:
    """One server's runs of a scenario, with its memory before and after."""

    server: str
    jobs: int
    runs: list[LoadResult] = field(default_factory=list)
    startup_seconds: float = 0.0
    rss_start: dict[str, int] = field(default_factory=dict)
    rss_end: dict[str, int] = field(default_factory=dict)
    sample: bytes | None = None  # one answer, its own base URL replaced by "{base}"
    faults: list[Any] = field(default_factory=list)  # the mock's own errors (GET /__mock__/errors)
    background: list[float] = field(default_factory=list)  # cores other processes used, per run
    cpu_us: list[float] = field(default_factory=list)  # the server's CPU time per request, per run

    def median_cpu_us(self) -> float:
        """The server's median CPU time per request: what it costs, however busy the machine was."""
        return statistics.median(self.cpu_us) if self.cpu_us else 0.0

    def median(self, metric: str) -> float:
        """The median over the runs of `rps`, `p50_ms` or `p99_ms`."""
        return statistics.median(getattr(run, metric) for run in self.runs) if self.runs else 0.0

    def spread(self) -> float | None:
        """How far apart the runs' requests/s lie, as a fraction of their median; None for fewer than two runs."""
        rates = [run.rps for run in self.runs]
        median = self.median("rps")
        return (max(rates) - min(rates)) / median if len(rates) > 1 and median else None

    @property
    def clean(self) -> bool:
        """Every run answered 2xx throughout."""
        return bool(self.runs) and all(run.clean for run in self.runs)


@dataclass
class ScenarioResult:
    """A scenario's runs on every server, and how the mock compares to the bare route."""

    scenario: Scenario
    servers: dict[str, ServerRuns] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def ratio(self, metric: str) -> float | None:
        """Mock over bare for a median metric (`cpu_us` too); None unless both ran."""
        if "bare" not in self.servers or "mock" not in self.servers:
            return None
        bare, mock = self.servers["bare"], self.servers["mock"]
        if metric == "cpu_us":
            return mock.median_cpu_us() / bare.median_cpu_us() if bare.median_cpu_us() else None
        return mock.median(metric) / bare.median(metric) if bare.median(metric) else None

    def pair_ratios(self) -> list[float]:
        """Mock over bare requests/s for each pair of runs made back to back (see `run`): how far the ratio moved."""
        if "bare" not in self.servers or "mock" not in self.servers:
            return []
        pairs = zip(self.servers["bare"].runs, self.servers["mock"].runs, strict=False)
        return [mock.rps / bare.rps for bare, mock in pairs if bare.rps]

    @property
    def target_met(self) -> bool | None:
        """Whether the mock met the requests/s and p99 targets; None without a target or a comparison."""
        ratio, p99 = self.ratio("rps"), self.ratio("p99_ms")
        wanted = self.scenario.target_ratio, self.scenario.target_p99
        if wanted == (None, None) or ratio is None or p99 is None:
            return None
        fast = wanted[0] is None or ratio >= wanted[0]
        steady = wanted[1] is None or p99 <= wanted[1]
        return fast and steady and self.servers["mock"].clean

    @property
    def same_json(self) -> bool | None:
        """Whether both servers answered the sampled request with the same JSON; None if not sampled."""
        samples = [runs.sample for runs in self.servers.values()]
        if len(samples) < 2 or None in samples:
            return None
        return bool(json.loads(samples[0] or b"null") == json.loads(samples[1] or b"null"))


def run(scenario: Scenario, settings: Settings) -> ScenarioResult:
    """Drive `scenario` against each server, each in its own process over its own data file.

    Runs alternate between the servers (bare, mock, bare, mock, ...) so that anything else the
    machine does during the benchmark weighs on both alike.
    """
    result = ScenarioResult(scenario)
    with contextlib.ExitStack() as stack:
        contenders = [stack.enter_context(Contender(server, scenario, settings)) for server in settings.servers]
        for contender in contenders:
            contender.warm_up()
        for number in range(1, settings.runs + 1):
            for contender in contenders:
                contender.measure(number)
        for contender in contenders:
            result.servers[contender.server] = contender.finish()
    for server in result.servers:
        _check(result, server)
    result.notes += steadiness_notes(result)
    busiest = max((max(runs.background, default=0.0) for runs in result.servers.values()), default=0.0)
    if busiest >= 0.25:
        result.notes.append(f"other processes kept up to {busiest:.2f} of the cores busy during these runs")
    if result.same_json is False:
        result.notes.append("the bare route and the mock answered the sampled request with different JSON")
    return result


def steadiness_notes(result: ScenarioResult) -> list[str]:
    """What says a verdict rests on unsteady figures: runs far apart, or run pairs either side of the target.

    Each pair of runs is made back to back, so the machine's mood weighs on both alike; when
    the pairs' ratios still fall either side of the target, the median's verdict is the machine's.
    """
    notes = []
    for server, runs in result.servers.items():
        spread = runs.spread()
        if spread is not None and spread > UNSTEADY:
            rates = [run.rps for run in runs.runs]
            notes.append(
                f"the {'bare route' if server == 'bare' else server}'s runs spread over {spread:.0%} of their median "
                f"({min(rates):,.0f} to {max(rates):,.0f} req/s): the machine was not steady"
            )
    ratios, target = result.pair_ratios(), result.scenario.target_ratio
    if target is not None and ratios and min(ratios) < target <= max(ratios):
        notes.append(
            f"mock/bare of the {len(ratios)} run pairs ranged {min(ratios):.2f} to {max(ratios):.2f}, either side "
            f"of the {target:.2f} target: a quieter machine judges this one"
        )
    return notes


class Contender:
    """One server process under one scenario's load, with the runs it has done."""

    def __init__(self, server: str, scenario: Scenario, settings: Settings) -> None:
        self.server, self.scenario, self.settings = server, scenario, settings
        jobs = job_data.make_jobs(self._data_size(), state=scenario.state)
        data = job_data.write_jobs(settings.workdir / f"{scenario.name}-{server}.json", jobs)
        ids = job_data.write_ids(settings.workdir / f"{scenario.name}-{server}.ids", jobs)
        tokens = None
        if scenario.fresh_tokens:
            tokens = job_data.write_tokens(settings.workdir / f"{scenario.name}-{server}.tokens", self._tokens())
        self.first_id = jobs[0]["uuid"]
        options = settings.mock_options
        if scenario.state_sync is not None:
            state_file = settings.workdir / f"{scenario.name}-{server}.state.json"
            options += ("--state-file", str(state_file), "--state-sync", scenario.state_sync)
        if scenario.restored and server == "mock":
            state_file = settings.workdir / f"{scenario.name}-{server}.state.json"
            with servers.mock(data, options=(*options, "--state-file", str(state_file))):
                pass  # started, it saves its jobs; stopped (SIGTERM), it saves them once more
            options += ("--state-file", str(state_file))
        self.process = servers.baseline(data) if server == "bare" else servers.mock(data, options=options)
        self.runs = ServerRuns(server, len(jobs))
        self.load = Load(
            scenario.method,
            scenario.path,
            ids=ids if "{id}" in scenario.path else None,
            body=scenario.body,
            tokens=tokens,
            connections=scenario.connections or settings.connections,
            duration=settings.duration,
        )
        # Each abort uses its job up, each create makes the state to save larger: back to the start before every run.
        self.resets = (scenario.consumes or scenario.state_sync is not None) and server == "mock"

    def _data_size(self) -> int:
        """The mock needs more distinct jobs than the fastest run could use up when requests consume them."""
        if not self.scenario.consumes or self.server != "mock" or self.scenario.fresh_tokens:
            return self.scenario.jobs
        if self.scenario.state_sync == "always":
            return self.scenario.jobs  # far more than a synced run uses up (a few hundred to a few thousand)
        return self._used_up()

    def _used_up(self) -> int:
        """More requests than the fastest run could make."""
        return max(self.scenario.jobs, math.ceil(CEILING_RPS * max(self.settings.duration, self.settings.warmup)))

    def _tokens(self) -> int:
        """How many fresh tokens to mint: one per request the fastest run could make (the bare route needs a few)."""
        return self._used_up() if self.server == "mock" else 100

    def __enter__(self) -> Contender:
        self.process.__enter__()
        try:
            self._setup()
        except BaseException:
            self.process.stop()
            raise
        return self

    def _setup(self) -> None:
        self.runs.startup_seconds = self.process.startup_seconds
        self.runs.rss_start = self.process.rss()
        self._login()
        if self.scenario.method == "GET":
            path = self.scenario.path.replace("{id}", self.first_id)
            status, raw = self.process.fetch("GET", path, token=self.load.token)
            self.runs.sample = raw.replace(self.process.base_url.encode(), b"{base}") if status == 200 else None

    def __exit__(self, *exc_info: object) -> None:
        self.process.stop()

    def _login(self) -> None:
        auth = self.scenario.auth and not self.scenario.fresh_tokens
        self.load = replace(self.load, token=self.process.login() if auth else "")

    def warm_up(self) -> None:
        """Load that is not measured: caches, allocator and CPU frequency settle."""
        if self.settings.warmup > 0:
            self.settings.generator(self.process.base_url, replace(self.load, duration=self.settings.warmup))

    def measure(self, number: int) -> None:
        """One measured run."""
        if self.resets:
            self.process.request("POST", "/__mock__/reset")
            self._login()
        before = CpuSample.take(self.process.pid)
        outcome = self.settings.generator(self.process.base_url, self.load)
        after = CpuSample.take(self.process.pid)
        self.runs.background.append(after.others_since(before))
        self.runs.cpu_us.append((after.server - before.server) / max(1, outcome.requests) * 1e6)
        self.runs.runs.append(outcome)
        _progress(self.scenario, self.server, number, self.settings.runs, outcome, self.runs.background[-1])

    def finish(self) -> ServerRuns:
        """The runs, the memory after them, and the mock's own faults."""
        self.runs.rss_end = self.process.rss()
        if self.server == "mock":
            status, raw = self.process.fetch("GET", "/__mock__/errors")
            self.runs.faults = json.loads(raw) if status == 200 and raw else []
        return self.runs


def _check(result: ScenarioResult, server: str) -> None:
    runs = result.servers[server]
    for number, outcome in enumerate(runs.runs, 1):
        if not outcome.clean:
            result.notes.append(
                f"{server} run {number}: {outcome.non_2xx} non-2xx answers, {outcome.socket_errors} socket errors"
            )
    if runs.faults:
        result.notes.append(f"the mock logged {len(runs.faults)} faults of its own (GET /__mock__/errors)")


def _progress(scenario: Scenario, server: str, number: int, total: int, outcome: LoadResult, others: float) -> None:
    print(
        f"  {scenario.name:<11} {server:<4} run {number}/{total}: {outcome.rps:>9,.0f} req/s"
        f"  p50 {outcome.p50_ms:7.2f} ms  p99 {outcome.p99_ms:7.2f} ms  (others used {others:.2f} cores)"
        + ("" if outcome.clean else f"  ({outcome.non_2xx} non-2xx, {outcome.socket_errors} socket errors)"),
        file=sys.stderr,
        flush=True,
    )
