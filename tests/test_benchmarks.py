"""The benchmark harness runs end to end: one quick scenario against the bare route, figures in its JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import peers, report
from benchmarks.baseline import TOKEN, dump
from benchmarks.jobs import make_jobs
from benchmarks.load import LoadResult, run_wrk
from benchmarks.scenarios import Scenario, ScenarioResult, ServerRuns, Settings, steadiness_notes

ROOT = Path(__file__).resolve().parent.parent


def _benchmark(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` from the repository, as a user runs the benchmarks; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    "generator",
    [
        pytest.param(
            "wrk",
            id="wrk",
            # In CI (.ci/run installs wrk) a missing wrk is a failure, not a skip.
            marks=pytest.mark.skipif(
                not shutil.which("wrk") and not os.environ.get("CI"), reason="wrk is not installed"
            ),
        ),
        pytest.param("python", id="python-fallback"),
    ],
)
def test_quick_run__reports_the_bare_route(tmp_path: Path, generator: str) -> None:
    results = tmp_path / "results.json"
    run = _benchmark(
        "benchmarks",
        *("--quick", "--only", "get-job", "--servers", "bare"),
        *("--load-generator", generator, "--json", str(results)),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "| GET /@jobs/{id} |" in run.stdout
    data = json.loads(results.read_text())
    assert data["machine"]["load_generator"].startswith(generator)
    assert data["settings"] | {"servers": ["bare"], "runs": 1, "quick": True} == data["settings"]
    [scenario] = data["scenarios"]
    assert scenario["name"] == "get-job"
    bare = scenario["servers"]["bare"]
    assert len(bare["runs"]) == 1
    assert bare["clean"], bare["runs"]
    assert bare["median"]["rps"] > 0
    assert bare["median"]["p50_ms"] <= bare["median"]["p99_ms"]
    assert bare["rss_start"]["VmRSS"] > 0
    assert scenario["ratios"]["rps"] is None  # no mock in this run, so nothing to compare


def test_quick_run__measures_what_state_sync_always_costs(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    run = _benchmark(
        "benchmarks",
        *("--quick", "--only", "create", "--only", "create-synced"),
        *("--servers", "mock", "--load-generator", "python", "--json", str(results)),
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    assert "| POST /__mock__/jobs, --state-sync always |" in run.stdout
    scenarios = {
        scenario["name"]: scenario["servers"]["mock"] for scenario in json.loads(results.read_text())["scenarios"]
    }
    for name in ("create", "create-synced"):
        assert scenarios[name]["clean"], scenarios[name]["runs"]
        assert scenarios[name]["median"]["rps"] > 0
        assert scenarios[name]["faults"] == [], "the mock reported no errors of its own"


def test_quick_run__every_operation_answers_2xx_with_fresh_tokens_and_a_restart(tmp_path: Path) -> None:
    """retry, delete, renew, logout (a new token each) and a restart from a state file: driven clean, each checked."""
    results = tmp_path / "results.json"
    names = ["retry", "delete", "renew", "logout", "memory-restored"]
    run = _benchmark(
        "benchmarks",
        "--quick",
        *(f"--only={name}" for name in names),
        *("--load-generator", "python", "--json", str(results)),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "| mock, restarted from its state file | 10,000 |" in run.stdout
    document = json.loads(results.read_text())
    scenarios = {scenario["name"]: scenario for scenario in document["scenarios"]}
    assert set(scenarios) == set(names)
    for name in names:
        mock = scenarios[name]["servers"]["mock"]
        assert mock["clean"], (name, mock["runs"])  # no 400 refusal for a job used twice, no 401 for a token used twice
        assert mock["faults"] == [], name
    assert scenarios["logout"]["target_p99"] == 2.0
    [restored] = [item for item in document["memory"] if item["server"] == "mock"]
    assert restored["restored"] and restored["jobs"] == 10_000
    assert 0 < restored["rss_loaded"] < 300


def test_a_short_soak__the_mock_holds_under_mixed_hostile_load(tmp_path: Path) -> None:
    results = tmp_path / "soak.json"
    run = _benchmark("benchmarks.soak", "--seconds", "10", "--json", str(results), timeout=120)
    report = json.loads(results.read_text())
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASSED" in run.stdout and "| RSS start / after warm-up / end / peak |" in run.stdout
    assert report["requests"] > 500 and report["server_errors"] == 0 and report["mock_errors"] == 0
    assert report["probe_failures"] == 0, "the mock answered throughout"
    assert report["storms"] > 0 and report["storms_with_one_winner"] == report["storms"]
    assert report["rude_connections"] > 20, "idle, trickling and leaving connections were part of the load"
    assert report["growth_mb"] <= 8.0 and len(report["samples_mb"]) >= 8


def _runs(server: str, rates: list[float]) -> ServerRuns:
    """A server's runs of 5 s each at these requests/s."""
    return ServerRuns(server, 100, runs=[LoadResult(round(rate * 5), 5.0, 2.0, 4.0) for rate in rates])


def test_a_verdict_on_unsteady_runs_says_so() -> None:
    """Run pairs either side of the target, or one server's runs far apart: the report says the machine moved."""
    scenario = Scenario("abort", "POST /@jobs/{id}/abort", "POST", "/@jobs/{id}/abort", jobs=100, target_ratio=0.6)
    unsteady = ScenarioResult(
        scenario, {"bare": _runs("bare", [10_000, 12_500, 10_000]), "mock": _runs("mock", [5_500, 7_000, 6_500])}
    )
    assert [round(ratio, 2) for ratio in unsteady.pair_ratios()] == [0.55, 0.56, 0.65]
    assert steadiness_notes(unsteady) == [
        "the bare route's runs spread over 25% of their median (10,000 to 12,500 req/s): the machine was not steady",
        "the mock's runs spread over 23% of their median (5,500 to 7,000 req/s): the machine was not steady",
        "mock/bare of the 3 run pairs ranged 0.55 to 0.65, either side of the 0.60 target: a quieter machine judges "
        "this one",
    ]
    steady = ScenarioResult(
        scenario, {"bare": _runs("bare", [10_000, 10_400, 10_200]), "mock": _runs("mock", [7_000, 7_100, 6_900])}
    )
    assert steadiness_notes(steady) == []  # all pairs clear of the target, every server within 15 %
    assert steady.target_met is True


def _cpu_runs(server: str, rate: float, cpu_us: float, p99_ms: float = 4.0) -> ServerRuns:
    """A server's three runs of 5 s at `rate` requests/s, each costing `cpu_us` of its CPU per request."""
    runs = [LoadResult(round(rate * 5), 5.0, 2.0, p99_ms) for _ in range(3)]
    return ServerRuns(server, 100, runs=runs, cpu_us=[cpu_us] * 3)


def test_the_floor_and_the_peers_verdicts() -> None:
    """Issue 26: mock ≥ 0.5 of bare in req/s and CPU per request, p99 ≤ 2× bare; the mock cheaper than each peer."""
    scenario = Scenario("get-job", "GET /@jobs/{id}", "GET", "/@jobs/{id}", jobs=100, target_ratio=0.65, floor=True)
    bare, mock = _cpu_runs("bare", 10_000, 50), _cpu_runs("mock", 7_000, 90)
    result = ScenarioResult(scenario, {"bare": bare, "mock": mock, "prism": _cpu_runs("prism", 900, 800)})
    assert result.floor_met is True and round(result.cpu_floor() or 0, 2) == 0.56
    assert result.peers() == ["prism"] and result.peer_cost("prism") == pytest.approx(800 / 90)
    assert result.ahead_of_peers is True
    tables = report.peers_tables(Settings("wrk", run_wrk, Path(".")), [result])
    assert "| GET /@jobs/{id} | 50 | 90 | 800 (8.9×) | met |" in tables
    assert "| GET /@jobs/{id} | 10,000 | 7,000 | 900 (7.8×) |" in tables
    costly = ScenarioResult(scenario, {"bare": bare, "mock": _cpu_runs("mock", 7_000, 110)})
    assert costly.floor_met is False and costly.target_met is True  # issue 14's req/s target met, the CPU floor not
    slow = ScenarioResult(scenario, {"bare": bare, "mock": _cpu_runs("mock", 7_000, 90, p99_ms=9.0)})
    assert slow.floor_met is False
    behind = ScenarioResult(scenario, {"bare": bare, "mock": mock, "wiremock": _cpu_runs("wiremock", 9_000, 80)})
    assert behind.ahead_of_peers is False
    assert ScenarioResult(scenario, {"bare": bare, "mock": mock}).ahead_of_peers is None  # no peer ran


def test_the_peers_are_configured_with_the_bare_routes_answers(tmp_path: Path) -> None:
    """Prism's spec, Mockoon's environment and WireMock's stubs answer with the bare route's bytes, every operation."""
    jobs = make_jobs(3)
    base = "http://127.0.0.1:4321"
    first = jobs[0]["uuid"]
    spec = peers.prism_spec(jobs, base)
    listing = spec["paths"]["/@jobs"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    assert listing == {"benchmark": {"summary": "The benchmark's jobs", "value": jobs}}
    environment = peers.mockoon_environment(jobs, base, 4321)
    routes = {(route["method"], route["endpoint"]): route["responses"][0] for route in environment["routes"]}
    assert len(routes) == 7 + len(jobs) and environment["lastMigration"] == peers.MOCKOON_MIGRATION
    assert routes[("get", "@jobs")]["body"] == dump(jobs).decode()
    assert json.loads(routes[("get", f"@jobs/{first}")]["body"]) == {"@id": f"{base}/@jobs/{first}", **jobs[0]}
    assert routes[("post", "@jobs/:id/abort")]["statusCode"] == 204
    assert all(response["disableTemplating"] for response in routes.values())
    stubs = peers.wiremock_mappings(jobs, base)["mappings"]
    by_name = {stub["name"]: stub for stub in stubs}
    assert by_name["retryJob"]["request"] == {"method": "POST", "urlPathPattern": "/@jobs/[^/]+/retry"}
    assert by_name["login"]["response"]["body"] == dump({"token": TOKEN}).decode()
    assert [stub["priority"] for stub in stubs if stub["name"] == "getJob"] == [5] * len(jobs)
    command = peers.BY_NAME["json-server"].configure(tmp_path, jobs, base, 4321)
    assert json.loads((tmp_path / "json-server-db.json").read_text()) == {"jobs": jobs}
    assert command[-6:] == ["uuid", "--host", "127.0.0.1", "--port", "4321", "--quiet"]
    assert {peer.name for peer in peers.PEERS} == {"prism", "mockoon", "wiremock", "json-server"}
    assert all(peers.PACKAGES[peer.package] for peer in peers.PEERS)  # every peer is pinned to a version
