"""A TypeScript client generated from spec/jobs.yaml drives the live mock, as a frontend developer's would.

openapi-typescript turns the spec into types, `tsc` (strict) compiles a small openapi-fetch program
against them, and node runs it against a live mock: it logs in, lists, gets, aborts, retries and
deletes, and prints what it saw. It runs once against the mock and once through jobs-proxy in front
of it, which must find no violation in that traffic. The npm packages are pinned in
tests/frontend/package-lock.json and installed once into tests/frontend/node_modules (reinstalled
when the lock changes)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

from jobsproxy.testing import LiveProxy
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID

NODE = shutil.which("node")
NPM = shutil.which("npm")
MISSING = (
    None if NODE and NPM else "node and npm are not on PATH: the generated TypeScript client cannot be built or run"
)
# .ci/run sets JOBS_KIT_REQUIRE_FRONTEND=1 in CI, where a missing node is a broken install step, not a skip.
REQUIRED = os.environ.get("JOBS_KIT_REQUIRE_FRONTEND") == "1"
pytestmark = pytest.mark.skipif(
    MISSING is not None and not REQUIRED, reason=f"TypeScript client test skipped: {MISSING}"
)

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "tests" / "frontend"
SPEC = ROOT / "spec" / "jobs.yaml"
STAMP = FRONTEND / "node_modules" / ".installed-from-lock"
JOB_OPERATIONS = ("login", "getJobs", "getJob", "abortJob", "retryJob", "deleteJob")


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a node tool with no stdin; fail the test with its output when it fails."""
    env = {**os.environ, "NO_UPDATE_NOTIFIER": "1", "npm_config_update_notifier": "false", "NO_COLOR": "1"}
    result = subprocess.run(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def _install() -> None:
    """`npm ci` from the lock, unless node_modules was installed from this very lock already."""
    digest = hashlib.sha256((FRONTEND / "package.json").read_bytes() + (FRONTEND / "package-lock.json").read_bytes())
    if STAMP.is_file() and STAMP.read_text() == digest.hexdigest():
        return
    assert NPM is not None
    _run([NPM, "ci", "--no-audit", "--no-fund", "--prefer-offline"], FRONTEND, timeout=600)
    STAMP.write_text(digest.hexdigest())


@pytest.fixture(scope="session")
def ts_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Types generated from the spec and the client compiled by strict tsc, in a build folder of its own."""
    if MISSING is not None:
        pytest.fail(f"JOBS_KIT_REQUIRE_FRONTEND=1 but {MISSING}")
    _install()
    build = tmp_path_factory.mktemp("ts-client")
    for name in ("package.json", "tsconfig.json"):
        shutil.copy(FRONTEND / name, build / name)
    shutil.copytree(FRONTEND / "src", build / "src")
    (build / "node_modules").symlink_to(FRONTEND / "node_modules", target_is_directory=True)
    bin_dir = build / "node_modules" / ".bin"
    # Generated as .ts, not .d.ts, so that tsc checks the generated file too (skipLibCheck skips .d.ts).
    _run([str(bin_dir / "openapi-typescript"), str(SPEC), "-o", "src/jobs.ts"], build, timeout=120)
    generated = (build / "src" / "jobs.ts").read_text()
    for operation in JOB_OPERATIONS:
        assert f"    {operation}: {{" in generated, f"openapi-typescript generated no type for {operation}"
    # Type-checks src/client.ts and src/typechecks.ts, whose @ts-expect-error lines must each meet an error.
    _run([str(bin_dir / "tsc"), "-p", "."], build, timeout=300)
    program = build / "dist" / "client.js"
    assert program.is_file(), "tsc emitted no dist/client.js"
    return program


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "through-jobs-proxy"])
def test_generated_client_logs_in_lists_gets_aborts_retries_and_deletes(
    mock: LiveMock, ts_client: Path, through_proxy: bool
) -> None:
    assert NODE is not None
    with LiveProxy(mock.url) if through_proxy else nullcontext() as proxy:
        url = proxy.url if proxy else mock.url
        output = _run([NODE, str(ts_client), url], ts_client.parent, timeout=60).stdout
        if proxy:  # the proxy judged every answer the program got: none departs from the spec or its lifecycle
            report = proxy.report()
            assert report.violations == 0, report.journal
            assert report.matrix()["running"]["abortJob"] == report.matrix()["failed"]["retryJob"] == "pass"
            assert report.calls["deleteJob"] == {"204": 1, "404": 1}
    summary: dict[str, Any] = json.loads(output.strip().splitlines()[-1])

    assert summary["anonymous"] == {"status": 401, "error": "You are not authorized to access this resource."}
    assert summary["login"] == {"status": 200, "tokenParts": 3}

    listed = summary["list"]
    assert listed["status"] == 200
    # The starting jobs, in every state, plus the two the program created through the control API.
    assert listed["statuses"] == ["aborted", "completed", "created", "failed", "running"]
    assert listed["uuids"][0] == DOCUMENTED_ID
    assert summary["abort"]["uuid"] in listed["uuids"] and summary["retry"]["uuid"] in listed["uuids"]
    assert listed["count"] == len(listed["uuids"]) == len(set(listed["uuids"]))

    assert summary["get"] == {
        "status": 200,
        "uuid": DOCUMENTED_ID,
        "id": f"{url}/@jobs/{DOCUMENTED_ID}",  # through the proxy too: the mock honours X-Forwarded-Host
        "title": "Reindex Events",
        "jobStatus": "created",
    }

    abort = summary["abort"]
    assert (abort["before"], abort["status"], abort["after"]) == ("running", 204, "aborted")
    assert abort["finished"] is not None
    uuid = abort["uuid"]
    assert abort["again"] == {"status": 400, "error": f"Job {uuid} is aborted; only a running job can be aborted."}

    retry = summary["retry"]
    assert (retry["before"], retry["status"], retry["after"]) == ("failed", 204, "created")
    assert (retry["started"], retry["finished"], retry["result"]) == (None, None, {})

    deleted = summary["delete"]
    assert deleted["uuid"] == retry["uuid"]
    assert deleted["status"] == 204
    assert deleted["getAfter"] == {"status": 404, "error": "Not found."}
    assert deleted["deleteAgain"] == {"status": 404}
    assert deleted["listed"] is False
    assert deleted["countAfter"] == listed["count"] - 1

    # The mock saw what the program says it did, operation by operation (its own answers agreeing).
    seen = [
        (entry["operationId"], entry["status"])
        for entry in mock.control("GET", "journal")
        if entry["operationId"] in JOB_OPERATIONS
    ]
    assert seen == [
        ("getJobs", 401),
        ("login", 200),
        ("getJobs", 200),
        ("getJob", 200),
        ("abortJob", 204),
        ("getJob", 200),
        ("abortJob", 400),
        ("retryJob", 204),
        ("getJob", 200),
        ("deleteJob", 204),
        ("getJob", 404),
        ("deleteJob", 404),
        ("getJobs", 200),
    ]
