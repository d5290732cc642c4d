"""The plain schemathesis CLI, every check and phase, finds nothing wrong with the strict mock."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from jobspec.loader import HTTP_METHODS
from mockserver.clock import Clock
from mockserver.config import MockConfig
from mockserver.testing import LiveMock

ST_CONFIG = """\
[auth.dynamic.openapi.bearerAuth]
path = "/@login"
payload = { login = "admin", password = "admin" }
extract_selector = "/token"
"""


@pytest.fixture
def busy_mock() -> Iterator[LiveMock]:
    """A strict mock on real time whose worker and schedule keep jobs coming and moving."""
    with LiveMock(config=MockConfig(strict=True, schedule=5, speed=10, seed=11)) as server:
        yield server


def test_schemathesis_run_reports_no_failures(busy_mock: LiveMock, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(ST_CONFIG)
    st = Path(sys.executable).parent / "st"
    run = subprocess.run(
        [
            str(st),
            "--no-color",
            "--config-file",
            str(config),
            "run",
            f"{busy_mock.url}/openapi.yaml",
            "--url",
            busy_mock.url,
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "30",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:]
    summary = run.stdout[run.stdout.index("SUMMARY") :]
    assert "✅ Stateful" in summary and "failed" not in summary.lower(), summary
    assert busy_mock.errors() == []


def test_schemathesis_finds_nothing_wrong_with_the_control_api_by_its_own_document() -> None:
    """Every check but positive data acceptance: a consistent job is more than its schema can say (the
    lifecycle's invariants, a latency range from low to high), so schema-valid bodies may get a 400."""
    with LiveMock(config=MockConfig(seed=3), clock=Clock(manual=True)) as mock:
        st = Path(sys.executable).parent / "st"
        run = subprocess.run(
            [str(st), "--no-color", "run", f"{mock.url}/__mock__/openapi.yaml", "--url", mock.url,
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--phases", "examples,coverage,fuzzing", "--max-examples", "15", "--seed", "1"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        document = yaml.safe_load(requests.get(f"{mock.url}/__mock__/openapi.yaml", timeout=10).text)
    operations = sum(1 for item in document["paths"].values() for key in item if key in HTTP_METHODS)
    assert run.returncode == 0, run.stdout[-4000:]
    summary = run.stdout[run.stdout.index("SUMMARY") :]
    assert f"Selected: {operations}/{operations}" in summary and f"Tested: {operations}" in summary, summary
    assert "failed" not in summary.lower() and "Server error" not in summary, summary
