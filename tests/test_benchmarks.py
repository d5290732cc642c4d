"""The benchmark harness runs end to end: one quick scenario against the bare route, figures in its JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "get-job", "--servers", "bare"]
        + ["--load-generator", generator, "--json", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
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
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "create", "--only", "create-synced"]
        + ["--servers", "mock", "--load-generator", "python", "--json", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
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
