"""`python -m benchmarks --only sessions` runs end to end: lookup cost, idle sessions' memory, nginx sharding."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.sharding import nginx_path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_sessions_benchmark_reports_every_figure(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "sessions", "--load-generator", "python"]
        + ["--connections", "4", "--json", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "## Sessions" in run.stdout and "CPU/request, header / none" in run.stdout
    figures = json.loads(results.read_text())["sessions"]
    assert set(figures["lookup_rps"]) == {"none", "header", "prefix"} and min(figures["lookup_rps"].values()) > 0
    assert figures["lookup_ratio"] > 0 and figures["sessions"] == 100
    assert 0 <= figures["memory_mb"]["idle"] < 100
    if nginx_path() is not None:
        assert set(figures["sharded_rps"]) == {"one mock", "one mock behind nginx", "two mocks behind nginx"}
        assert min(figures["sharded_rps"].values()) > 0
