"""What users expect of any such tool: content paths, --version, the licence, JSON logs, redirects, a clear CORS refusal."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest
import requests

from conformance.cli import main as conformance_main
from mockserver.config import MockConfig
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import create

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COMMANDS = ["jobs-mock", "jobs-conformance", "jobs-proxy", "jobs-lifecycle"]


@pytest.mark.parametrize("prefix", ["/news", "/a/b", "/a-b/c.d/e_f"])
def test_every_view_answers_under_a_content_path_as_at_the_root(
    admin: requests.Session, mock: LiveMock, prefix: str
) -> None:
    token = requests.post(f"{mock.url}{prefix}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
    assert admin.get(f"{mock.url}{prefix}/@jobs").json() == admin.get(f"{mock.url}/@jobs").json()
    job = create(mock, "running")["uuid"]
    one = admin.get(f"{mock.url}{prefix}/@jobs/{job}", headers={"Authorization": f"Bearer {token}"}).json()
    assert one["@id"] == f"{mock.url}{prefix}/@jobs/{job}"  # the URL the client used
    assert admin.post(f"{mock.url}{prefix}/@jobs/{job}/abort").status_code == 204
    assert admin.get(f"{mock.url}/@jobs/{job}").json()["status"] != "running"
    assert (
        admin.post(f"{mock.url}{prefix}/@jobs/{job}/abort").json() == admin.post(f"{mock.url}/@jobs/{job}/abort").json()
    )
    mock.assert_called("abortJob", job=job, times=3)
    assert [c["path"] for c in mock.calls("abortJob")][0] == f"{prefix}/@jobs/{job}/abort"
    assert mock.errors() == []  # strict mode checked the content-path answers against the spec's own paths


@pytest.mark.parametrize("path", ["/@news/@jobs", "/news/@jobs/extra/x", "/news//@jobs", "/news/@nope"])
def test_what_is_not_a_view_under_a_content_path_is_a_404(admin: requests.Session, mock: LiveMock, path: str) -> None:
    response = admin.get(f"{mock.url}{path}")
    assert (response.status_code, response.json()) == (404, {"error": f"Not found: {path}"})


def test_the_suite_passes_against_the_mock_under_a_content_path(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with LiveMock(config=MockConfig(strict=True, seed=2, speed=20)) as live:
        argv = ["--base-url", f"{live.url}/news", "--fixtures", "mock", "--max-examples", "3", "--seed", "1"]
        assert conformance_main([*argv, "-q", "--report", str(out)]) == 0
        assert live.errors() == []
        paths = {entry["path"] for entry in live.control("GET", "journal?operation=getJob")}
    assert paths and all(path.startswith("/news/@jobs/") for path in paths)
    report = json.loads(out.read_text())
    assert report["exit_code"] == 0 and report["base_url"].endswith("/news") and not report["error"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_its_version(command: str) -> None:
    script = shutil.which(command, path=str(BIN))
    assert script, f"the {command} console script is installed"
    run = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"{command} 0.1.0"


def test_the_wheel_carries_the_licence_as_an_spdx_expression(tmp_path: Path) -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
        licence = archive.read(next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))).decode()
    assert metadata["License-Expression"] == "MIT" and metadata["License-File"] == "LICENSE"
    assert licence == (ROOT / "LICENSE").read_text()


@pytest.fixture
def json_mock() -> Iterator[tuple[subprocess.Popen[str], str]]:
    script = shutil.which("jobs-mock", path=str(BIN))
    assert script
    command = [script, "--port", "0", "--log-format", "json", "--log-level", "debug", "--seed", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = json.loads(process.stdout.readline())
    assert first["message"].startswith("Listening on http://127.0.0.1:") and first["level"] == "INFO"
    try:
        yield process, first["url"]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=10)


def test_json_logs_are_one_object_per_line(json_mock: tuple[subprocess.Popen[str], str]) -> None:
    process, url = json_mock
    token = requests.post(f"{url}/@login", json={"login": "admin", "password": "admin"}, timeout=5).json()["token"]
    requests.get(f"{url}/@jobs/{DOCUMENTED_ID}", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    said, logged = [json.loads(line) for line in out.splitlines()], [json.loads(line) for line in err.splitlines()]
    assert [line["message"] for line in said] == ["jobs-mock: shutting down"]  # after the start-up object
    access = [line for line in logged if line["logger"] == "aiohttp.access"]  # --log-level debug: one per request
    assert len(access) == 2 and f"GET /@jobs/{DOCUMENTED_ID}" in access[1]["message"]
    for line in said + logged:
        assert set(line) >= {"time", "level", "logger", "message"}
        assert line["time"].endswith("Z") and line["time"][10] == "T"
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("path", "location"),
    [("/docs/", "/docs"), ("/__mock__", "/__mock__/"), ("/__mock__?token=t%20x", "/__mock__/?token=t%20x")],
)
def test_near_misses_redirect_to_the_canonical_path(mock: LiveMock, path: str, location: str) -> None:
    response = requests.get(f"{mock.url}{path}", allow_redirects=False)
    assert response.status_code == 308 and response.headers["Location"] == location
    followed = requests.get(f"{mock.url}{path}")
    assert followed.status_code == 200 and followed.headers["Content-Type"].startswith("text/html")


def test_without_the_control_api_its_redirect_is_gone_too() -> None:
    with LiveMock(config=MockConfig(control=False)) as live:
        assert requests.get(f"{live.url}/__mock__", allow_redirects=False).status_code == 404


@pytest.mark.parametrize("path", ["/@jobs", f"/@jobs/{DOCUMENTED_ID}/abort", "/news/@login", "/__mock__/reset"])
def test_a_preflight_from_a_foreign_origin_is_a_clear_403(mock: LiveMock, path: str) -> None:
    headers = {"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"}
    response = requests.options(f"{mock.url}{path}", headers=headers)
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "type": "Forbidden",
            "message": "CORS: the origin http://evil.test is not allowed; start the mock with --cors-origin http://evil.test.",
        }
    }
    assert "Access-Control-Allow-Origin" not in response.headers
    allowed = requests.options(f"{mock.url}{path}", headers={**headers, "Origin": "http://localhost:3000"})
    assert allowed.status_code == 204


def test_the_docs_show_no_machines_own_paths_and_say_where_the_commands_are() -> None:
    # The README and the site's pages. The Docker image's own working directory (/home/jobs) is the image's.
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    docs = "\n".join(page.read_text() for page in pages).replace("/home/jobs", "<image workdir>")
    for private in ("/work/", "/tmp/", "/root/", "/home/"):
        assert private not in docs, private
    readme = (ROOT / "README.md").read_text()
    assert ". .venv/bin/activate" in readme and ".venv/bin/jobs-mock --frozen" in readme
    for flag in ("--reload", "--log-format", "jobs_mock", "journal/count", "/news/@jobs"):
        assert flag in docs, flag
