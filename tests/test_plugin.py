"""The pytest entry point: the same checks inside a user's own pytest session, one test per check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fakejobs import Violation, serve


def pytest_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "conformance.test_deployment"]
    return subprocess.run([*command, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)


def test_without_a_base_url_the_check_is_skipped(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, "-q")
    assert run.returncode == 0, run.stdout
    assert "1 skipped" in run.stdout


def test_a_conformant_server_passes_and_a_broken_one_fails_naming_the_check(tmp_path: Path) -> None:
    options = ["--jobs-fixtures", "mock", "--jobs-phases", "auth,lifecycle", "--jobs-timeout", "2", "-q", "-rf"]
    with serve() as good:
        passed = pytest_run(tmp_path, "--jobs-base-url", good.url, *options)
    with serve(Violation.DELETE_KEEPS) as broken:
        failed = pytest_run(tmp_path, "--jobs-base-url", broken.url, *options, f"--junitxml={tmp_path / 'j.xml'}")
    assert passed.returncode == 0, passed.stdout[-2000:]
    assert failed.returncode == 1
    assert "lifecycle:deletion_is_final [deleteJob on created]" in failed.stdout
    assert "deletion_is_final" in (tmp_path / "j.xml").read_text()


def test_an_unreachable_deployment_is_a_usage_error(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, "--jobs-base-url", "http://127.0.0.1:1", "-q")
    assert run.returncode == 4  # pytest's usage error
    assert "unreachable" in run.stderr
