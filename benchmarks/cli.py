"""`python -m benchmarks`: the bare route and the mock under the same load, memory, and the suite's wall time.

With --peers, the mocks users would pick instead (Prism, Mockoon, WireMock, json-server; benchmarks/peers.py)
run every operation they can serve in the same run, compared by CPU per request and requests/s.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path

from benchmarks import memory, peers, report, scenarios, servers, sessions, suite
from benchmarks.load import LoadError, choose

SUITE = "suite"
SESSIONS = "sessions"  # session lookup cost, idle sessions' memory, two mocks behind nginx (benchmarks/sessions.py)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    names = [scenario.name for scenario in scenarios.catalogue()] + [SUITE, SESSIONS]
    cli = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    cli.add_argument("--duration", type=float, default=5.0, help="seconds per run (default 5; whole seconds with wrk)")
    cli.add_argument("--runs", type=int, default=3, help="runs per server and scenario; medians (default 3)")
    cli.add_argument("--warmup", type=float, default=1.0, help="seconds of unmeasured load first (default 1)")
    cli.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    cli.add_argument(
        "--only",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"run only these (repeatable): {', '.join(names)}",
    )
    cli.add_argument(
        "--servers",
        default="bare,mock",
        help=f"comma-separated: bare, mock, {', '.join(scenarios.PEERS)} (default bare,mock; ratios need bare and mock)",
    )
    cli.add_argument(
        "--peers",
        action="store_true",
        help="also run the mocks users would pick instead: " + ", ".join(scenarios.PEERS) + " (installed from npm "
        "into $NICK_BENCH_PEERS or ~/.cache/nick-bench-peers when missing), on every operation they can serve",
    )
    cli.add_argument(
        "--peer-warmup",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds of load each peer takes before its warm-up until its CPU per request settles (default 0): "
        "WireMock's JIT keeps getting cheaper for a minute or more",
    )
    cli.add_argument(
        "--load-generator", choices=("auto", "wrk", "python"), default="auto", help="default: wrk if installed"
    )
    cli.add_argument(
        "--nice",
        type=int,
        default=0,
        metavar="N",
        help="run the harness, the servers and wrk at this niceness (negative, as root: ahead of other work)",
    )
    cli.add_argument(
        "--mock-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="pass OPTION to jobs-mock in the load scenarios (repeatable), e.g. --mock-option=--strict",
    )
    cli.add_argument("--quick", action="store_true", help="smoke test: 1 run of 1 s, no warm-up, small sizes")
    cli.add_argument("--json", type=Path, metavar="FILE", help="also write every figure as JSON to FILE")
    cli.add_argument("--fail-on-miss", action="store_true", help="exit 1 when the mock misses a target")
    return cli


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the tables; 0 unless it could not run (or a target was missed, if asked)."""
    args = parser().parse_args(argv)
    # Stopped with SIGTERM (or SIGINT where a shell ignores it for background jobs), the servers are stopped too.
    signal.signal(signal.SIGTERM, _exit)
    if args.quick:
        args.duration, args.runs, args.warmup = 1.0, 1, 0.0
    wanted = tuple(name for name in args.servers.split(",") if name)
    if args.peers:
        wanted += tuple(name for name in scenarios.PEERS if name not in wanted)
    known = scenarios.SERVERS + scenarios.PEERS
    if not wanted or set(wanted) - set(known):
        print(f"--servers takes some of {', '.join(known)}, not {args.servers!r}", file=sys.stderr)
        return 2
    wanted = tuple(name for name in known if name in wanted)  # bare and mock first, in the order the tables show
    try:
        generator_name, generator = choose(args.load_generator)
        if args.nice:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # the servers and wrk inherit it
    except (LoadError, PermissionError) as error:
        print(f"cannot run: {error}", file=sys.stderr)
        return 2
    skipped: list[str] = []
    if "mock" in wanted and (reason := servers.mock_available()):
        skipped.append(f"the mock ({reason}); measuring the bare route only")
        wanted = tuple(name for name in wanted if name != "mock")
    wanted = _peers_available(wanted, skipped)
    print(f"Load generator: {generator_name}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="nick-bench-") as workdir:
        settings = scenarios.Settings(
            generator_name=generator_name,
            generator=generator,
            workdir=Path(workdir),
            duration=args.duration,
            runs=args.runs,
            warmup=args.warmup,
            connections=args.connections,
            servers=wanted,
            quick=args.quick,
            nice=args.nice,
            mock_options=tuple(args.mock_option),
            peer_warmup=args.peer_warmup if args.warmup > 0 else 0.0,
        )
        try:
            results, figures, suite_runs = _measure(settings, set(args.only or []), skipped)
            session_figures = _sessions(settings, set(args.only or []), skipped)
        except (servers.ServerError, LoadError, RuntimeError) as error:
            print(f"the benchmark failed: {error}", file=sys.stderr)
            return 1
    print(report.render(settings, results, figures, suite_runs, skipped))
    if session_figures is not None:
        print("\n" + sessions.render(session_figures))
    if args.json:
        document = report.document(settings, results, figures, suite_runs, skipped)
        if session_figures is not None:
            document[SESSIONS] = session_figures.document()
        report.write_json(args.json, document)
    missed = [r for r in results if False in (r.target_met, r.floor_met, r.ahead_of_peers)]
    return 1 if args.fail_on_miss and (missed or _missed(figures, suite_runs)) else 0


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _peers_available(wanted: tuple[str, ...], skipped: list[str]) -> tuple[str, ...]:
    """`wanted` less the peers that cannot run here (installed first when missing), each noted in `skipped`."""
    asked = [name for name in wanted if name in peers.BY_NAME]
    if asked and peers.missing():
        try:
            peers.install(packages=peers.missing())
        except peers.PeerError as error:
            print(f"the peers could not be installed: {error}", file=sys.stderr)
    kept = []
    for name in wanted:
        reason = peers.BY_NAME[name].unavailable() if name in peers.BY_NAME else None
        if reason:
            skipped.append(f"{name}: {reason}")
        else:
            kept.append(name)
    return tuple(kept)


def _measure(
    settings: scenarios.Settings, only: set[str], skipped: list[str]
) -> tuple[list[scenarios.ScenarioResult], list[memory.Memory], list[suite.SuiteRun]]:
    chosen = [s for s in scenarios.catalogue(settings.quick) if not only or s.name in only]
    results = [scenarios.run(scenario, settings) for scenario in chosen] if settings.servers and chosen else []
    if not settings.servers:
        skipped.append("every load scenario: no server to drive")
    figures = [item for r in results if r.scenario.name.startswith("memory") for item in memory.figures(r)]
    return results, figures, _suite(only, "mock" in settings.servers, skipped)


def _sessions(settings: scenarios.Settings, only: set[str], skipped: list[str]) -> sessions.SessionFigures | None:
    if only and SESSIONS not in only:
        return None
    if "mock" not in settings.servers:
        skipped.append("sessions: no mock to measure")
        return None
    return sessions.measure(settings)


def _missed(figures: list[memory.Memory], suite_runs: list[suite.SuiteRun]) -> bool:
    return any(m.server == "mock" and not m.target_met for m in figures) or any(
        run.target_met is False for run in suite_runs
    )


def _suite(only: set[str], mock: bool, skipped: list[str]) -> list[suite.SuiteRun]:
    if only and SUITE not in only:
        return []
    if not mock:
        skipped.append("the conformance suite's wall time: no mock to run it against")
        return []
    if reason := suite.unavailable():
        skipped.append(f"the conformance suite's wall time: {reason}")
        return []
    runs = []
    for variant in suite.VARIANTS:
        print(f"  suite {variant} ...", file=sys.stderr, flush=True)
        runs.append(suite.run(variant))
        print(f"  suite {variant}: {runs[-1].seconds:.1f} s, exit {runs[-1].exit_code}", file=sys.stderr, flush=True)
    return runs
