"""The pytest entry point: the same checks inside a user's own pytest session, run at test time."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.fakejobs import Violation, serve


def pytest_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "conformance.test_deployment"]
    return subprocess.run([*command, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)


def test_without_a_base_url_the_check_is_skipped_naming_the_option(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, "-q", "-rs")
    assert run.returncode == 0, run.stdout
    assert "1 skipped" in run.stdout and "--jobs-base-url" in run.stdout


def test_checks_run_as_tests_at_run_time_without_warnings_and_fail_naming_the_check(tmp_path: Path) -> None:
    options = ["--jobs-fixtures", "mock", "--jobs-timeout", "2", "--jobs-max-examples", "2", "--jobs-seed", "1"]
    junit = tmp_path / "j.xml"
    with serve() as good:
        passed = pytest_run(tmp_path, "--jobs-base-url", good.url, *options, "-q", "-W", "error")
    with serve(Violation.DELETE_KEEPS) as broken:
        failed = pytest_run(
            tmp_path,
            "--jobs-base-url",
            broken.url,
            *options,
            "--jobs-phases",
            "auth,lifecycle",
            "-q",
            f"--junitxml={junit}",
        )
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert "warning" not in (passed.stdout + passed.stderr).lower()
    assert failed.returncode == 1
    assert "test_conformance[lifecycle:deletion_is_final]" in failed.stdout
    assert "deleteJob on created" in failed.stdout
    times = [float(case.get("time", 0)) for case in ET.parse(junit).getroot().iter("testcase")]
    assert max(times) > 0.1, times  # the phases ran inside the tests, not at collection


def test_skip_reasons_name_the_plugins_options(tmp_path: Path) -> None:
    with serve() as server:
        run = pytest_run(
            tmp_path, "--jobs-base-url", server.url, "--jobs-phases", "lifecycle", "--jobs-timeout", "0.5", "-rs"
        )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "--jobs-allow-destructive" in run.stdout and "--jobs-fixtures" in run.stdout


def test_a_wrong_option_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, "--jobs-base-url", "http://127.0.0.1:1", "--jobs-phases", "auth,nope", "-q")
    assert run.returncode == 4  # pytest's usage error
    assert "--jobs-phases: unknown phases ['nope']" in run.stderr


def test_an_unreachable_deployment_fails_every_test_with_the_cause(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, "--jobs-base-url", "http://127.0.0.1:1", "--jobs-phases", "auth", "-q")
    assert run.returncode == 1
    assert "unreachable" in run.stdout and "passed" not in run.stdout
