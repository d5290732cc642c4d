"""Sessions: what naming one costs on GET /@jobs/{id}, the memory of 1,000 idle ones, two mocks behind nginx against one."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import servers
from benchmarks.load import Load, LoadResult
from benchmarks.machine import CpuSample
from benchmarks.memory import MB
from benchmarks.scenarios import Settings
from benchmarks.sharding import Nginx, nginx_path
from mockserver.domain.auth import DOCUMENTED_TOKEN

LOOKUP_TARGET = 1.05  # the mock's CPU time per GET naming a session, at most this multiple of naming none
MEMORY_TARGET_MB = 100  # 1,000 idle sessions above the mock's baseline
SHARD_SESSIONS = 64  # sessions the sharded load walks through


@dataclass
class SessionFigures:
    """Every figure of the sessions benchmark, medians of the runs."""

    lookup_rps: dict[str, float] = field(default_factory=dict)  # none, header, prefix
    lookup_cpu_us: dict[str, float] = field(default_factory=dict)  # the mock's CPU time per request
    memory_mb: dict[str, float] = field(default_factory=dict)  # idle, changed: above the baseline
    sessions: int = 0
    sharded_rps: dict[str, float] = field(default_factory=dict)  # one mock, one behind nginx, two behind nginx
    skipped: list[str] = field(default_factory=list)

    @property
    def lookup_ratio(self) -> float | None:
        """The mock's CPU time per request with the session header over without: what the lookup costs.

        CPU time per request, not requests/s: on a machine others load, requests/s swing by a factor
        of two from one run to the next, while the server's own CPU time per request barely moves.
        """
        none, header = self.lookup_cpu_us.get("none"), self.lookup_cpu_us.get("header")
        return header / none if none and header else None

    def document(self) -> dict[str, Any]:
        """The figures as JSON."""
        return {**vars(self), "lookup_ratio": self.lookup_ratio}


def measure(settings: Settings) -> SessionFigures:
    """All three measurements (nginx's only when it is installed)."""
    figures = SessionFigures(sessions=100 if settings.quick else 1000)
    _lookup(settings, figures)
    _memory(figures)
    if nginx_path() is None:
        figures.skipped.append("two mocks behind nginx: nginx is not installed")
    else:
        _sharded(settings, figures)
    return figures


def _ids(mock: servers.ServerProcess, workdir: Path, name: str, prefix: str = "") -> Path:
    path = workdir / name
    path.write_text("".join(f"{prefix}{job['uuid']}\n" for job in mock.request("GET", "/__mock__/jobs")))
    return path


def _median_runs(
    settings: Settings, runs: dict[str, Callable[[], LoadResult]], pid: int | None = None
) -> tuple[dict[str, float], dict[str, float]]:
    """Each variant run in turn, `settings.runs` times (interleaved, so a busy moment hits them alike).

    The medians of requests/s and, given the server's `pid`, of its CPU microseconds per request.
    """
    rates: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    if settings.warmup:
        for run in runs.values():
            run()  # unmeasured: the first run of a fresh process is slower (imports, caches)
    for number in range(settings.runs):
        for name, run in runs.items():
            before = CpuSample.take(pid) if pid else None
            result = run()
            if before is not None and pid:
                cpu[name].append((CpuSample.take(pid).server - before.server) / max(1, result.requests) * 1e6)
            if not result.clean:
                raise servers.ServerError(f"sessions benchmark, {name}: not every answer was a 2xx: {result}")
            rates[name].append(result.rps)
            print(f"  sessions {name} run {number + 1}: {result.rps:,.0f} req/s", file=sys.stderr, flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    return medians, {name: statistics.median(values) for name, values in cpu.items() if values}


def _lookup(settings: Settings, figures: SessionFigures) -> None:
    with servers.mock(None, options=settings.mock_options) as mock:
        token = mock.login()
        ids = _ids(mock, settings.workdir, "session-ids")
        mock.request("POST", "/__mock__/sessions", {"name": "bench"})

        def load(path: str, session: str = "") -> Callable[[], LoadResult]:
            shape = Load("GET", path, ids, token=token, session=session, connections=settings.connections)
            return lambda: settings.generator(mock.base_url, _timed(shape, settings))

        figures.lookup_rps, figures.lookup_cpu_us = _median_runs(
            settings,
            {
                "none": load("/@jobs/{id}"),
                "header": load("/@jobs/{id}", "bench"),
                "prefix": load("/__session/bench/@jobs/{id}"),
            },
            mock.pid,
        )


def _timed(load: Load, settings: Settings) -> Load:
    return Load(
        load.method, load.path, load.ids, load.body, load.token, load.session, load.connections, settings.duration
    )


def _memory(figures: SessionFigures) -> None:
    """Resident memory above the baseline: sessions only read (sharing the starting data), then sessions each changed."""
    for kind in ("idle", "changed"):
        with servers.mock(None) as mock:
            token = mock.login()
            [first, *_] = (job["uuid"] for job in mock.request("GET", "/__mock__/jobs"))
            mock.fetch("GET", f"/@jobs/{first}", token=token)
            before = mock.rss()["VmRSS"]
            for index in range(figures.sessions):
                mock.request("POST", "/__mock__/sessions", {"name": f"m{index}"})
                status, _ = mock.fetch(
                    "DELETE" if kind == "changed" else "GET", f"/__session/m{index}/@jobs/{first}", token=token
                )
                if status >= 300:
                    raise servers.ServerError(f"sessions benchmark, memory: answered {status}")
            figures.memory_mb[kind] = (mock.rss()["VmRSS"] - before) / MB


def _sharded(settings: Settings, figures: SessionFigures) -> None:
    """GET /@jobs/{id} over SHARD_SESSIONS sessions (by the path prefix), straight to one mock and through nginx."""
    with servers.mock(None) as one, servers.mock(None) as two:
        token = DOCUMENTED_TOKEN  # every mock holds it: a token one mock issued, the other (behind nginx) does not
        jobs = [job["uuid"] for job in one.request("GET", "/__mock__/jobs")]
        walk = settings.workdir / "shard-ids"
        walk.write_text("".join(f"s{index}/@jobs/{job}\n" for job in jobs for index in range(SHARD_SESSIONS)))
        shape = Load("GET", "/__session/{id}", walk, token=token, connections=settings.connections)
        proxies = settings.workdir / "nginx-one", settings.workdir / "nginx-two"
        for directory in proxies:
            directory.mkdir(exist_ok=True)
        with Nginx([one.base_url], proxies[0]) as single, Nginx([one.base_url, two.base_url], proxies[1]) as double:
            figures.sharded_rps, _ = _median_runs(
                settings,
                {
                    "one mock": lambda: settings.generator(one.base_url, _timed(shape, settings)),
                    "one mock behind nginx": lambda: settings.generator(single.url, _timed(shape, settings)),
                    "two mocks behind nginx": lambda: settings.generator(double.url, _timed(shape, settings)),
                },
            )


def render(figures: SessionFigures) -> str:
    """The figures as Markdown."""
    ratio = figures.lookup_ratio
    lines = [
        "## Sessions",
        "",
        "| Measure | Figure | Target |",
        "|---|---|---|",
        *(
            f"| GET /@jobs/{{id}}, session: {name} | {rps:,.0f} req/s, "
            f"{figures.lookup_cpu_us.get(name, 0):.0f} µs CPU/request | |"
            for name, rps in figures.lookup_rps.items()
        ),
        f"| CPU/request, header / none | {ratio:.3f} | ≤ {LOOKUP_TARGET} {'met' if ratio <= LOOKUP_TARGET else 'MISSED'} |"
        if ratio
        else "| CPU/request, header / none | n/a | |",
        *(
            f"| {figures.sessions:,} {kind} sessions, RSS above baseline | {mb:.1f} MB | "
            + (f"< {MEMORY_TARGET_MB} MB {'met' if mb < MEMORY_TARGET_MB else 'MISSED'} |" if kind == "idle" else "|")
            for kind, mb in figures.memory_mb.items()
        ),
        *(f"| {name} ({SHARD_SESSIONS} sessions) | {rps:,.0f} req/s | |" for name, rps in figures.sharded_rps.items()),
        *(f"\nSkipped: {reason}" for reason in figures.skipped),
    ]
    return "\n".join(lines)
