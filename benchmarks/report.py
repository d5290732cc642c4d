"""The results: markdown tables for people, a JSON document for machines."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import peers
from benchmarks.machine import describe
from benchmarks.memory import Memory
from benchmarks.scenarios import (
    FLOOR,
    P99,
    SETTLE_CHUNK,
    SETTLE_LIMIT,
    SETTLED,
    Scenario,
    ScenarioResult,
    ServerRuns,
    Settings,
)
from benchmarks.suite import LIMIT_SECONDS, SuiteRun


def _num(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "–" if value is None else f"{value:,.{digits}f}{suffix}"


def _target(scenario: Scenario) -> str:
    """What the mock must reach on a scenario, in words."""
    parts = []
    if scenario.target_ratio is not None:
        parts.append(f"req/s ≥ {scenario.target_ratio:.0%} of bare")
    if scenario.target_p99 is not None:
        parts.append(f"p99 ≤ {scenario.target_p99:g}× bare")
    return ", ".join(parts)


def _verdict(met: bool | None, target: str) -> str:
    if met is None:
        return target or ""
    return f"{target}: {'met' if met else '**missed**'}"


def _cpu(bare: ServerRuns | None, mock: ServerRuns | None) -> str:
    return " → ".join(f"{runs.median_cpu_us():,.0f} µs" for runs in (bare, mock) if runs is not None)


def _floor(result: ScenarioResult) -> str:
    """Issue 26's floor on a scenario: met, or what fell short."""
    met = result.floor_met
    if met is None:
        return ""
    if met:
        return "met"
    rps, cpu, p99 = result.ratio("rps") or 0.0, result.cpu_floor() or 0.0, result.ratio("p99_ms") or 0.0
    short = [f"req/s {rps:.2f}"] if rps < FLOOR else []
    short += [f"CPU {cpu:.2f}"] if cpu < FLOOR else []
    short += [f"p99 {p99:.1f}×"] if p99 > P99 else []
    short += [] if result.servers["mock"].clean else ["non-2xx answers"]
    return f"**missed** ({', '.join(short)})"


def load_table(results: list[ScenarioResult]) -> str:
    """Requests/s and p50/p99 latency, bare route and mock side by side, ratios to the bare route."""
    lines = [
        "| scenario | bare req/s | mock req/s | mock/bare | bare p50 | mock p50 | ×p50 | bare p99 | mock p99 | ×p99 "
        "| CPU/req bare → mock | bare/mock CPU | target | floor |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for result in results:
        bare, mock = result.servers.get("bare"), result.servers.get("mock")
        target = _target(result.scenario)
        cells = [
            result.scenario.title,
            _num(bare.median("rps") if bare else None),
            _num(mock.median("rps") if mock else None),
            _num(result.ratio("rps"), 2),
            _num(bare.median("p50_ms") if bare else None, 2, " ms"),
            _num(mock.median("p50_ms") if mock else None, 2, " ms"),
            _num(result.ratio("p50_ms"), 1),
            _num(bare.median("p99_ms") if bare else None, 2, " ms"),
            _num(mock.median("p99_ms") if mock else None, 2, " ms"),
            _num(result.ratio("p99_ms"), 1),
            _cpu(bare, mock),
            _num(result.cpu_floor(), 2),
            _verdict(result.target_met, target),
            _floor(result),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def peers_tables(settings: Settings, results: list[ScenarioResult]) -> str:
    """The mock and the mocks users would pick instead: CPU per request, then requests/s, with ratios."""
    shown = [result for result in results if result.peers()]
    names = [peer.name for peer in peers.PEERS if any(peer.name in result.servers for result in shown)]
    if not shown:
        return ""
    titles = [f"{peers.BY_NAME[name].title} {peers.BY_NAME[name].version}" for name in names]
    head = "| operation | bare | jobs-mock | " + " | ".join(titles) + " |"
    rule = "|---|--:|--:|" + "--:|" * len(names)
    cpu = [
        "Server CPU per request (µs; lower is cheaper), and in brackets the peer's over the mock's "
        "(how many times cheaper the mock serves the operation):",
        "",
        head[:-1] + "| mock ahead of each |",
        rule + "---|",
    ]
    rates = [
        "Requests/s on the same machine in the same run, and in brackets the mock's over the peer's "
        "(the machine is shared: the CPU figures above are the steady ones):",
        "",
        head,
        rule,
    ]
    for result in shown:
        bare, mock = result.servers.get("bare"), result.servers.get("mock")
        cpu_cells = [_num(bare.median_cpu_us() if bare else None), _num(mock.median_cpu_us() if mock else None)]
        rate_cells = [_num(bare.median("rps") if bare else None), _num(mock.median("rps") if mock else None)]
        for name in names:
            runs = result.servers.get(name)
            if runs is None:
                cpu_cells.append("–")
                rate_cells.append("–")
                continue
            mark = "" if runs.clean else " ⚠"
            cpu_cells.append(f"{runs.median_cpu_us():,.0f} ({_num(result.peer_cost(name), 1, '×')}){mark}")
            rate_cells.append(f"{runs.median('rps'):,.0f} ({_num(result.peer_speed(name), 1, '×')}){mark}")
        ahead = result.ahead_of_peers
        verdict = "–" if ahead is None else ("met" if ahead else "**missed**")
        cpu.append(f"| {result.scenario.title} | " + " | ".join(cpu_cells) + f" | {verdict} |")
        rates.append(f"| {result.scenario.title} | " + " | ".join(rate_cells) + " |")
    described = [
        f"- {peers.BY_NAME[name].title} {peers.BY_NAME[name].version} (npm {peers.BY_NAME[name].package}, on "
        f"{peers.BY_NAME[name].runtime}): {peers.BY_NAME[name].description}"
        for name in names
    ]
    unclean = any(not runs.clean for result in shown for name, runs in result.servers.items() if name in names)
    legend = "⚠: the peer answered some requests with other than 2xx (see the notes). " if unclean else ""
    return "\n".join(
        [
            "## The mock and the mocks users would pick instead",
            "",
            *cpu,
            "",
            *rates,
            "",
            legend
            + "How each was set up (each on 127.0.0.1, in its own process, its CPU that of its process tree; "
            + (f"each under {settings.peer_warmup:g} s of load first, then " if settings.peer_warmup else "each ")
            + f"warmed up under the same load in chunks of {SETTLE_CHUNK:g} s or more until its CPU per request "
            f"moved less than {SETTLED:.0%} from one chunk to the next, at most {SETTLE_LIMIT:g} s: their JIT "
            "compilers keep compiling for tens of seconds):",
            "",
            *described,
        ]
    )


def memory_table(figures: list[Memory]) -> str:
    """Resident memory (MB) of each server process with the memory scenario's jobs loaded."""
    lines = [
        "| server | jobs | start-up | RSS loaded | RSS after serving | peak (VmHWM) | target |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for item in figures:
        verdict = ""
        if item.server == "mock":
            after = "under" if item.served_under_limit else "**over**"
            verdict = f"{_verdict(item.target_met, 'loaded < 300 MB')}; after serving: {after}"
        server = f"{item.server}, restarted from its state file" if item.restored else item.server
        lines.append(
            f"| {server} | {item.jobs:,} | {item.startup_seconds:.1f} s | {item.rss_loaded:,.0f} MB "
            f"| {item.rss_served:,.0f} MB | {item.peak:,.0f} MB | {verdict} |"
        )
    return "\n".join(lines)


def suite_table(runs: list[SuiteRun]) -> str:
    """Wall time of full conformance runs against a local mock."""
    lines = ["| conformance run | wall time | exit code | target |", "|---|--:|--:|---|"]
    for run in runs:
        verdict = _verdict(run.target_met, f"< {LIMIT_SECONDS:g} s" if run.variant == "default" else "")
        lines.append(f"| `{run.command}` | {run.seconds:.1f} s | {run.exit_code} | {verdict} |")
    return "\n".join(lines)


def render(
    settings: Settings,
    results: list[ScenarioResult],
    memory: list[Memory],
    suite: list[SuiteRun],
    skipped: list[str],
) -> str:
    """The whole report as markdown."""
    info = describe(settings.generator_name)
    parts = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, {info['os']}, "
        f"Python {info['python']}, aiohttp {info['aiohttp']}.",
        f"Load generator: {settings.generator_name}; {settings.connections} connections; "
        f"{settings.runs} run(s) of {settings.duration:g} s per server and scenario after a {settings.warmup:g} s "
        "warm-up; medians. Each server in its own process; the mock with "
        + " ".join(["--frozen", *settings.mock_options])
        + (f"; everything at niceness {settings.nice}." if settings.nice else "."),
    ]
    loads = [r for r in results if not r.scenario.name.startswith("memory")]
    if loads:
        parts += ["", load_table(loads)]
        parts += [
            "",
            f"floor (issue 26): mock ≥ {FLOOR:g} of bare in req/s and in CPU per request (bare's CPU over "
            f"the mock's), p99 ≤ {P99:g}× bare's.",
        ]
    if peer_tables := peers_tables(settings, results):
        parts += ["", peer_tables]
    big = [r for r in results if r.scenario.name.startswith("memory")]
    if big:
        parts += ["", load_table(big), "", memory_table(memory)]
    if suite:
        parts += ["", suite_table(suite)]
    notes = [f"- {r.scenario.name}: {note}" for r in results for note in r.notes]
    notes += [f"- {run.variant}: exit {run.exit_code}: {run.tail}" for run in suite if run.exit_code != 0]
    notes += [f"- skipped: {reason}" for reason in skipped]
    if notes:
        parts += ["", "Notes:", *notes]
    return "\n".join(parts)


def document(
    settings: Settings,
    results: list[ScenarioResult],
    memory: list[Memory],
    suite: list[SuiteRun],
    skipped: list[str],
) -> dict[str, Any]:
    """Everything measured, as JSON-ready data."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(settings.generator_name),
        "settings": {
            "duration": settings.duration,
            "runs": settings.runs,
            "warmup": settings.warmup,
            "connections": settings.connections,
            "servers": list(settings.servers),
            "quick": settings.quick,
            "nice": settings.nice,
            "mock_options": list(settings.mock_options),
            "peer_warmup": settings.peer_warmup,
        },
        "scenarios": [_scenario(result) for result in results],
        "memory": [
            asdict(item) | {"target_met": item.target_met, "served_under_limit": item.served_under_limit}
            for item in memory
        ],
        "suite": [asdict(run) | {"target_met": run.target_met} for run in suite],
        "peers": {
            name: {
                "package": peers.BY_NAME[name].package,
                "version": peers.BY_NAME[name].version,
                "runtime": peers.BY_NAME[name].runtime,
            }
            for name in settings.servers
            if name in peers.BY_NAME
        },
        "skipped": skipped,
    }


def _scenario(result: ScenarioResult) -> dict[str, Any]:
    scenario = result.scenario
    return {
        "name": scenario.name,
        "title": scenario.title,
        "method": scenario.method,
        "path": scenario.path,
        "target_ratio": scenario.target_ratio,
        "target_p99": scenario.target_p99,
        "servers": {
            name: {
                "jobs": runs.jobs,
                "median": {metric: runs.median(metric) for metric in ("rps", "p50_ms", "p99_ms")}
                | {"cpu_us": runs.median_cpu_us()},
                "cpu_us": runs.cpu_us,
                "warmup_cpu_us": runs.warmup_cpu_us,
                "runs": [asdict(run) | {"rps": run.rps} for run in runs.runs],
                "clean": runs.clean,
                "startup_seconds": runs.startup_seconds,
                "rss_start": runs.rss_start,
                "rss_end": runs.rss_end,
                "sample_bytes": len(runs.sample) if runs.sample is not None else None,
                "faults": runs.faults,
                "background_cores": runs.background,
                "spread": runs.spread(),
            }
            for name, runs in result.servers.items()
        },
        "ratios": {metric: result.ratio(metric) for metric in ("rps", "p50_ms", "p99_ms", "cpu_us")},
        "pair_ratios": result.pair_ratios(),
        "target_met": result.target_met,
        "cpu_floor": result.cpu_floor(),
        "floor_met": result.floor_met,
        "peers": {
            name: {
                "cost": result.peer_cost(name),
                "speed": result.peer_speed(name),
                "same_json": result.same_as_bare(name),
            }
            for name in result.peers()
        },
        "ahead_of_peers": result.ahead_of_peers,
        "same_json": result.same_json,
        "notes": result.notes,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write the JSON document to `path`."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
