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
from benchmarks import peers, servers
from benchmarks.baseline import TOKEN
from benchmarks.load import Generator, Load, LoadResult
from benchmarks.machine import CpuSample, wait_idle
from jobspec import Refusal, load_spec

LOGIN_BODY = json.dumps({"login": "admin", "password": "admin"})
NEW_JOB_BODY = json.dumps({"title": "Benchmark job", "params": {"mock": {"delay": 86400}}})
SERVERS = ("bare", "mock")
PEERS = tuple(peer.name for peer in peers.PEERS)  # the mocks users would pick instead (benchmarks/peers.py)
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
    floor: bool = False  # issue 26's floor applies: mock ≥ FLOOR of bare (req/s and CPU per request), p99 ≤ P99× bare

    def served_by(self, server: str) -> bool:
        """Whether `server` runs this scenario: bare and mock every one, a peer the operations it can serve."""
        return server in SERVERS or (server in peers.BY_NAME and self.name in peers.BY_NAME[server].operations)


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
    peer_warmup: float = 0.0  # seconds of load each peer takes first, before its warm-up until it settles


READS, CHANGES, P99 = 0.65, 0.6, 2.0  # issue 14: reads at 65% of the bare route, every other load at 60%; p99 ≤ 2×
# Issue 26: on public APIs only, every operation at least half the bare route, in requests/s and in CPU per request
# (the bare route's CPU per request over the mock's), p99 at most twice the bare route's at every list size.
FLOOR = 0.5
UNSTEADY = 0.15  # a server's runs of one scenario spreading wider than this (of their median) are worth a note
# The peers run on JIT compilers (node's V8, Java's HotSpot), which keep compiling for tens of seconds under load
# (WireMock's CPU per abort fell from 166 to 48 µs over three 5-s runs after 5 s of warm-up): each is warmed in chunks
# until its CPU per request moves less than SETTLED from one chunk to the next, at most SETTLE_LIMIT seconds.
SETTLE_CHUNK, SETTLED, SETTLE_LIMIT = 3.0, 0.10, 60.0


def catalogue(quick: bool = False) -> list[Scenario]:
    """The scenarios: every operation of the jobs API under load, the cost of --state-sync, and memory."""
    large = 1_000 if quick else 10_000
    huge = 10_000 if quick else 100_000
    return [
        Scenario(
            "get-job", "GET /@jobs/{id}", "GET", "/@jobs/{id}", jobs=100, target_ratio=READS, target_p99=P99, floor=True
        ),
        Scenario(
            "list-small",
            "GET /@jobs (100 jobs)",
            "GET",
            "/@jobs",
            jobs=100,
            target_ratio=READS,
            target_p99=P99,
            floor=True,
        ),
        Scenario(
            "list-large",
            f"GET /@jobs ({large:,} jobs)",
            "GET",
            "/@jobs",
            jobs=large,
            target_ratio=READS,
            target_p99=P99,
            floor=True,
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
            floor=True,
        ),
        Scenario(
            "renew",
            "POST /@login-renew",
            "POST",
            "/@login-renew",
            jobs=100,
            target_ratio=CHANGES,
            target_p99=P99,
            floor=True,
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
            floor=True,
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
        # The largest list: no requests/s target of issue 14's (it measures memory), issue 26's floor all the same.
        Scenario(
            "memory", f"GET /@jobs ({huge:,} jobs, 1 connection)", "GET", "/@jobs", jobs=huge, connections=1, floor=True
        ),
        Scenario(
            "memory-restored",
            f"GET /@jobs ({huge:,} jobs, 1 connection), the mock restarted from its state file",
            "GET",
            "/@jobs",
            jobs=huge,
            connections=1,
            restored=True,
            floor=True,
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
        floor=state_sync is None,
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
    warmup_cpu_us: list[float] = field(default_factory=list)  # a peer's CPU per request in each warm-up chunk

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

    def cpu_floor(self) -> float | None:
        """The bare route's CPU per request over the mock's (1: as cheap as bare; 0.5: twice its cost); None unless both."""
        ratio = self.ratio("cpu_us")
        return 1 / ratio if ratio else None

    @property
    def floor_met(self) -> bool | None:
        """Issue 26's floor: mock ≥ FLOOR of bare in req/s and CPU per request, p99 ≤ P99× bare; None where not asked."""
        rps, cpu, p99 = self.ratio("rps"), self.cpu_floor(), self.ratio("p99_ms")
        if not self.scenario.floor or rps is None or cpu is None or p99 is None:
            return None
        return rps >= FLOOR and cpu >= FLOOR and p99 <= P99 and self.servers["mock"].clean

    def peers(self) -> list[str]:
        """The peers that ran this scenario, in the order they ran."""
        return [name for name in self.servers if name in peers.BY_NAME]

    def peer_cost(self, peer: str) -> float | None:
        """A peer's CPU per request over the mock's: how many times cheaper the mock serves it; None unless both."""
        if peer not in self.servers or "mock" not in self.servers or not self.servers["mock"].median_cpu_us():
            return None
        return self.servers[peer].median_cpu_us() / self.servers["mock"].median_cpu_us()

    def peer_speed(self, peer: str) -> float | None:
        """The mock's requests/s over a peer's, in the same run; None unless both."""
        if peer not in self.servers or "mock" not in self.servers or not self.servers[peer].median("rps"):
            return None
        return self.servers["mock"].median("rps") / self.servers[peer].median("rps")

    @property
    def ahead_of_peers(self) -> bool | None:
        """Whether the mock costs less CPU per request than every peer that served this scenario; None without one."""
        costs = [self.peer_cost(peer) for peer in self.peers()]
        if not costs or None in costs:
            return None
        return all(cost is not None and cost > 1 for cost in costs)

    @property
    def same_json(self) -> bool | None:
        """Whether the bare route and the mock answered the sampled request with the same JSON; None if not sampled."""
        return self.same_as_bare("mock")

    def same_as_bare(self, server: str) -> bool | None:
        """Whether `server` answered the sampled request with the bare route's JSON; None if either was not sampled."""
        if "bare" not in self.servers or server not in self.servers:
            return None
        samples = self.servers["bare"].sample, self.servers[server].sample
        if samples[0] is None or samples[1] is None:
            return None
        return bool(json.loads(samples[0] or b"null") == json.loads(samples[1] or b"null"))


def run(scenario: Scenario, settings: Settings) -> ScenarioResult:
    """Drive `scenario` against each server, each in its own process over its own data file.

    Runs alternate between the servers (bare, mock, bare, mock, ...) so that anything else the
    machine does during the benchmark weighs on both alike.
    """
    result = ScenarioResult(scenario)
    with contextlib.ExitStack() as stack:
        chosen = [server for server in settings.servers if scenario.served_by(server)]
        contenders = [stack.enter_context(Contender(server, scenario, settings)) for server in chosen]
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
    for peer in result.peers():
        if result.same_as_bare(peer) is False:
            result.notes.append(f"{peer} answered the sampled request with other JSON than the bare route's")
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
        if server in peers.BY_NAME:
            self.process = servers.peer(server, settings.workdir / f"{scenario.name}-{server}", jobs)
        elif server == "bare":
            self.process = servers.baseline(data)
        else:
            self.process = servers.mock(data, options=options)
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
        if auth and self.server in peers.BY_NAME and "login" not in peers.BY_NAME[self.server].operations:
            self.load = replace(self.load, token=TOKEN)  # json-server has no login: the token it never checks
            return
        self.load = replace(self.load, token=self.process.login() if auth else "")

    def warm_up(self) -> None:
        """Load that is not measured: caches, allocator and CPU frequency settle; a peer's JIT until it has settled."""
        if self.settings.warmup <= 0:
            return
        if self.server not in peers.BY_NAME:
            self.settings.generator(self.process.base_url, replace(self.load, duration=self.settings.warmup))
            return
        if self.settings.peer_warmup > 0:
            self.settings.generator(self.process.base_url, replace(self.load, duration=self.settings.peer_warmup))
        chunk = replace(self.load, duration=max(self.settings.warmup, SETTLE_CHUNK))
        costs = self.runs.warmup_cpu_us
        while len(costs) * chunk.duration < SETTLE_LIMIT:
            wait_idle(self.process.pid)
            before = CpuSample.take(self.process.pid)
            outcome = self.settings.generator(self.process.base_url, chunk)
            after = CpuSample.take(self.process.pid)
            costs.append((after.server - before.server) / max(1, outcome.requests) * 1e6)
            if len(costs) > 1 and abs(costs[-1] - costs[-2]) <= SETTLED * costs[-2]:
                break
        print(
            f"  {self.scenario.name:<11} {self.server:<11} warmed up "
            f"{self.settings.peer_warmup + len(costs) * chunk.duration:g} s: CPU "
            + " → ".join(f"{cost:,.0f}" for cost in costs)
            + " µs/req",
            file=sys.stderr,
            flush=True,
        )

    def measure(self, number: int) -> None:
        """One measured run."""
        if self.resets:
            self.process.request("POST", "/__mock__/reset")
        if self.resets or self.server == "mock":
            # A token of its own for each run: renew's tokens pile up past the 100,000 the mock holds, which then
            # forgets the oldest, the load's own among them (25,575 401s in a third run of renew at 8,000/s).
            self._login()
        wait_idle(self.process.pid)  # nothing left of the last run's work (answers to clients that have gone)
        before = CpuSample.take(self.process.pid)
        outcome = self.settings.generator(self.process.base_url, self.load)
        after = CpuSample.take(self.process.pid)
        self.runs.background.append(after.others_since(before))
        self.runs.cpu_us.append((after.server - before.server) / max(1, outcome.requests) * 1e6)
        self.runs.runs.append(outcome)
        _progress(self.scenario, self.server, number, self.settings.runs, outcome, self.runs)

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


def _progress(scenario: Scenario, server: str, number: int, total: int, outcome: LoadResult, runs: ServerRuns) -> None:
    print(
        f"  {scenario.name:<11} {server:<11} run {number}/{total}: {outcome.rps:>9,.0f} req/s"
        f"  p50 {outcome.p50_ms:7.2f} ms  p99 {outcome.p99_ms:7.2f} ms  CPU {runs.cpu_us[-1]:8,.0f} µs/req"
        f"  (others used {runs.background[-1]:.2f} cores)"
        + ("" if outcome.clean else f"  ({outcome.non_2xx} non-2xx, {outcome.socket_errors} socket errors)"),
        file=sys.stderr,
        flush=True,
    )
