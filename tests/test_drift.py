"""`jobs-drift` against mocks: none between two alike, every difference named between two that are not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import drift
from conformance.drift_cli import main as jobs_drift
from mockserver.config import MockConfig
from mockserver.testing import LiveMock

FORBIDDEN = ["--forbidden-login", "editor", "--forbidden-password", "editor123"]


def test_a_mock_does_not_drift_from_the_mock(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = tmp_path / "drift.json"
    with LiveMock() as deployment:
        assert jobs_drift(["--base-url", deployment.url, *FORBIDDEN, "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("NO DRIFT;")
    data = json.loads(report.read_text())
    assert data["same"] == len(drift.PROBES) and not data["differences"]
    assert list(data["notSent"]) == [drift.RATE_LIMIT_PROBE]  # the mock advertises no login limit


def test_a_deployment_that_lets_the_editor_manage_jobs_drifts_on_every_403(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    users = tmp_path / "users.json"
    users.write_text(
        json.dumps(
            [
                {"login": "admin", "password": "admin", "manageJobs": True},
                {"login": "editor", "password": "editor123", "manageJobs": True},
            ]
        )
    )
    with LiveMock(config=MockConfig(users=users)) as deployment:
        assert jobs_drift(["--base-url", deployment.url, *FORBIDDEN]) == 1
    out = capsys.readouterr().out
    different = [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("DIFFERENT ")]
    assert "list/editor" in different and "get-job/editor" in different and "language/nl/forbidden" in different
    assert all("editor" in name or "forbidden" in name for name in different), different
    assert out.splitlines()[-1].startswith(f"DRIFT: {len(different)} differences;")


def test_the_login_limit_is_compared_when_the_deployment_advertises_a_small_one() -> None:
    limited = MockConfig(rate_limits=(("AUTH_RATE_LIMIT", 4),))
    with LiveMock(config=limited) as deployment, LiveMock(config=limited) as mock:
        same = drift.compare(side(deployment), side(mock), probes=())
    assert (same.same, same.differences, same.skipped) == (1, [], {})
    with LiveMock(config=limited) as deployment, LiveMock() as unlimited:
        differ = drift.compare(side(deployment), side(unlimited), probes=())
    assert differ.same == 0 and [d.probe.name for d in differ.differences] == [drift.RATE_LIMIT_PROBE]
    assert differ.differences[0].deployment.status == 429 and differ.differences[0].mock.status == 401


def side(mock: LiveMock) -> drift.Side:
    return drift.Side(mock.url, "admin", "admin", None, "secret")


def test_the_command_says_in_one_line_why_it_cannot_compare() -> None:
    with LiveMock() as deployment:
        run = subprocess.run(
            [sys.executable, "-m", "conformance.drift_cli", "--base-url", deployment.url, "--password", "wrong"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "login as 'admin' answered 401" in run.stderr and "--password" in run.stderr
