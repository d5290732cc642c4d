"""The plain schemathesis CLI, every check and phase, finds nothing wrong with the strict mock.

schemathesis is told two things the spec says and it cannot read from it: a lifecycle refusal (400)
answers a valid request, and no 405 is promised for a method a path does not declare (Nick's
answer is a 404), so its undeclared-method checks do not apply.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from jobspec import load_spec
from jobspec.loader import HTTP_METHODS
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock

ST_AUTH = """\
[auth.dynamic.openapi.bearerAuth]
path = "/@login"
payload = { login = "admin", password = "admin" }
extract_selector = "/token"
"""
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # positive_data_acceptance's own default
METHOD_CHECKS = ("unsupported_method", "allow_header_conformance")


def st_config() -> str:
    """The auth, and each refusal's status an answer to a valid request of its operation (no path promises 405: the
    undeclared-method checks are left out on the command line, where `--checks all` would override a file)."""
    spec = load_spec()
    assert not any(spec.promises_405(operation.path) for operation in spec.operations.values())
    lines = [ST_AUTH]
    for refusal in spec.lifecycle.refusals:
        statuses = ", ".join(f'"{status}"' for status in [*ACCEPTED, str(refusal.status)])
        lines += [
            "[[operations]]",
            f'include-operation-id = "{refusal.operation}"',
            f"checks.positive_data_acceptance.expected-statuses = [{statuses}]",
            "",
        ]
    return "\n".join(lines)


@pytest.fixture
def busy_mock() -> Iterator[LiveMock]:
    """A strict mock on real time whose worker and schedule keep jobs coming and moving."""
    with LiveMock(config=MockConfig(strict=True, schedule=5, speed=10, seed=11)) as server:
        yield server


def test_schemathesis_run_reports_no_failures(busy_mock: LiveMock, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(st_config())
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
            "--exclude-checks",
            ",".join(METHOD_CHECKS),
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
