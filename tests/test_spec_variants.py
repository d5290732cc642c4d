"""A deployment's own copy of the spec drives the mock and the suite alike.

For each variant of `tests/spec_variants.py`: `jobs-mock --spec VARIANT` behaves as the variant says
(over HTTP), the suite given the variant passes that mock, and the suite given the packaged spec
fails it, naming the difference.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from conformance.cli import main as conformance
from tests.spec_variants import LOCKED_TYPE, write_variant

SUITE = ["--fixtures", "mock", "--phases", "lifecycle", "--timeout", "3", "-q"]


@contextmanager
def jobs_mock(spec: Path, *flags: str) -> Iterator[str]:
    """`jobs-mock --spec SPEC` on a free loopback port, as a user starts it; its URL."""
    script = shutil.which("jobs-mock", path=str(Path(sys.executable).parent))
    assert script, "the jobs-mock console script is installed"
    command = [script, "--spec", str(spec), "--port", "0", "--seed", "5", *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Listening on http://127.0.0.1:"), process.stderr.read() if process.stderr else first
        yield first.split()[-1]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)


class Client:
    """An admin session on a mock, with the control API at hand."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        token = self.session.post(f"{url}/@login", json={"login": "admin", "password": "admin"}, timeout=5)
        self.session.headers["Authorization"] = f"Bearer {token.json()['token']}"

    def create(self, **fields: Any) -> str:
        answer = self.session.post(f"{self.url}/__mock__/jobs", json=fields, timeout=5)
        assert answer.status_code == 201, answer.text
        job_id: str = answer.json()["uuid"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        answer = self.session.get(f"{self.url}/@jobs/{job_id}", timeout=5)
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        return job

    def post(self, job_id: str, action: str) -> requests.Response:
        return self.session.post(f"{self.url}/@jobs/{job_id}/{action}", timeout=5)


def verdicts(url: str, variant: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The suite passes the mock given the variant and fails it given the packaged spec; what it printed then."""
    assert conformance(["--base-url", url, "--spec", str(variant), *SUITE]) == 0
    capsys.readouterr()
    assert conformance(["--base-url", url, *SUITE]) == 1
    return capsys.readouterr().out


def test_locked_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = write_variant("locked-refusals", tmp_path)
    with jobs_mock(variant, "--frozen") as url:
        client = Client(url)
        job_id = client.create(status="created")
        refused = client.post(job_id, "abort")
        assert refused.status_code == 423
        assert refused.json() == {
            "error": {"type": LOCKED_TYPE, "message": f"Cannot do that: job {job_id} is created."}
        }
        assert client.job(job_id)["status"] == "created"
        out = verdicts(url, variant, capsys)
    assert "refusal_answer" in out and "Received 423 / Documented: 400" in out


def test_cancel_queued(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = write_variant("cancel-queued", tmp_path)
    with jobs_mock(variant, "--frozen") as url:
        client = Client(url)
        queued, done = client.create(status="created"), client.create(status="completed")
        assert client.post(queued, "abort").status_code == 204
        cancelled = client.job(queued)
        assert cancelled["status"] == "aborted" and cancelled["started"] and cancelled["finished"]
        refused = client.post(done, "abort")
        assert refused.status_code == 400
        assert refused.json() == {"error": f"Job {done} is completed; only a running job can be aborted."}
        out = verdicts(url, variant, capsys)
    assert "refusal_answer [abortJob on created]" in out and "Received 204 / Documented: 400" in out


def test_expiring_worker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = write_variant("expiring-worker", tmp_path)
    with jobs_mock(variant) as url:
        client = Client(url)
        left_alone = client.create(status="created", params={})
        held = client.create(status="running", params={"mock": {"runs_for": 3600}})
        failing = client.create(status="failed", params={"mock": {"runs_for": 3600}})
        deadline = time.monotonic() + 5
        while client.job(left_alone)["status"] != "aborted" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.job(left_alone)["status"] == "aborted", "by default the worker expires a running job"
        assert client.job(held)["status"] == "running", "params.mock.runs_for holds it, as the variant's setting"
        assert client.job(failing)["result"] == {"error": "Quota exceeded", "retryable": False}
        out = verdicts(url, variant, capsys)
    # "running then aborted", or "created then aborted" when both steps fall between two reads of the list
    assert "worker_follows_lifecycle" in out and "then aborted, with no client acting on it" in out


def test_retry_resumes(tmp_path: Path) -> None:
    """The packaged spec cannot tell this one apart (a resumed job looks like worker progress): variant only."""
    variant = write_variant("retry-resumes", tmp_path)
    with jobs_mock(variant, "--frozen") as url:
        client = Client(url)
        job_id = client.create(status="failed")
        assert client.post(job_id, "retry").status_code == 204
        resumed = client.job(job_id)
        assert (resumed["status"], resumed["finished"], resumed["result"]) == ("running", None, {})
        assert resumed["started"] is not None
        assert conformance(["--base-url", url, "--spec", str(variant), *SUITE]) == 0


def test_documented_405__the_mock_answers_405_there_and_schemathesis_checks_undeclared_methods_only_there(
    tmp_path: Path,
) -> None:
    """Nick promises no 405: only a copy of the spec that documents one on a path gets 405 with `Allow` there, and
    only then does the suite run schemathesis's checks of undeclared methods (on that path alone)."""
    variant = write_variant("documented-405", tmp_path)
    argv = ["--fixtures", "mock", "--phases", "schema", "--max-examples", "3", "--seed", "1", "-q", "--report"]
    with jobs_mock(variant, "--frozen") as url:
        client = Client(url)
        job_id = client.create(status="created")
        there = client.session.put(f"{url}/@jobs/{job_id}", timeout=5)
        elsewhere = client.session.put(f"{url}/@jobs", timeout=5)
        assert conformance(["--base-url", url, "--spec", str(variant), *argv, str(tmp_path / "variant.json")]) == 0
        assert conformance(["--base-url", url, *argv, str(tmp_path / "packaged.json")]) == 0
    assert there.status_code == 405
    assert sorted(there.headers["Allow"].replace(" ", "").split(",")) == ["DELETE", "GET", "HEAD"]
    assert (elsewhere.status_code, elsewhere.json()) == (404, {"error": "Not found: /@jobs"})
    assert "Allow" not in elsewhere.headers
    method_checks = {"unsupported_method", "allow_header_conformance"}
    ran = {
        (c["name"], c["subject"], c["outcome"])
        for c in _checks(tmp_path / "variant.json")
        if c["name"] in method_checks
    }
    assert ("unsupported_method", "GET /@jobs/{id}", "passed") in ran
    assert {subject for _, subject, _ in ran} <= {"GET /@jobs/{id}", "DELETE /@jobs/{id}"}, ran
    assert [c for c in _checks(tmp_path / "packaged.json") if c["name"] in method_checks] == []


def _checks(report: Path) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = json.loads(report.read_text())["checks"]
    return checks


def test_a_broken_variant_stops_the_mock_with_exit_2(tmp_path: Path) -> None:
    variant = write_variant("cancel-queued", tmp_path)
    variant.write_text(variant.read_text().replace("to: aborted", "to: cancelled"))
    script = shutil.which("jobs-mock", path=str(Path(sys.executable).parent))
    assert script
    run = subprocess.run([script, "--spec", str(variant), "--port", "0"], capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert ".to: 'cancelled' is not a state" in run.stderr
