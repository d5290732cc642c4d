"""The kit's `jobs_mock_session` fixture: a fresh session per test of one shared mock, under pytest-xdist -n 4."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from mockserver.config import MockConfig
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID

SAMPLE = """
import os
import time
import pytest
import requests

RUNNING, FAILED, CREATED = "0b8e5d1c-7a24-4f63-8c9e-1d2f3a4b5c6d", "9e4f2b6a-5c8d-4a1e-b3f7-0d9c8b7a6e5f", "{created}"


@pytest.fixture
def api(jobs_mock_session):
    with open(os.environ["SESSIONS_LOG"], "a") as log:
        print(jobs_mock_session.name, file=log)
    with requests.Session() as http:
        http.headers.update(jobs_mock_session.headers)
        token = http.post(jobs_mock_session.url + "/@login", json={{"login": "admin", "password": "admin"}}).json()
        http.headers["Authorization"] = "Bearer " + token["token"]
        yield http


def state(api, url, job_id):
    answer = api.get(f"{{url}}/@jobs/{{job_id}}")
    return answer.json()["status"] if answer.status_code == 200 else answer.status_code


@pytest.mark.parametrize("round", range({rounds}))
def test_abort(api, jobs_mock_session, round):
    url = jobs_mock_session.mock_url
    assert api.post(f"{{url}}/@jobs/{{RUNNING}}/abort").status_code == 204
    time.sleep(0.02)
    assert state(api, url, RUNNING) == "aborted" and state(api, url, FAILED) == "failed"


@pytest.mark.parametrize("round", range({rounds}))
def test_retry(api, jobs_mock_session, round):
    url = jobs_mock_session.mock_url
    assert api.post(f"{{url}}/@jobs/{{FAILED}}/retry").status_code == 204
    time.sleep(0.02)
    assert state(api, url, FAILED) == "created" and state(api, url, RUNNING) == "running"


@pytest.mark.parametrize("round", range({rounds}))
def test_delete_with_prefix(api, jobs_mock_session, round):
    url = jobs_mock_session.url  # the prefix this time
    assert api.delete(f"{{url}}/@jobs/{{RUNNING}}").status_code == 204
    time.sleep(0.02)
    assert state(api, url, RUNNING) == 404 and state(api, url, CREATED) == "created"


@pytest.mark.parametrize("round", range({rounds}))
def test_fault_and_clock(api, jobs_mock_session, round):
    url = jobs_mock_session.mock_url
    jobs_mock_session.control("POST", "faults", {{"operation": "abortJob", "status": 503}})
    assert api.post(f"{{url}}/@jobs/{{RUNNING}}/abort").status_code == 503
    jobs_mock_session.control("POST", "clock/advance", {{"seconds": 86400}})
    time.sleep(0.02)
    assert state(api, url, RUNNING) in ("completed", "failed") and state(api, url, CREATED) != "created"
"""


def test_every_test_has_its_own_session_under_xdist(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(SAMPLE.format(created=DOCUMENTED_ID, rounds=5))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # the sample's own rootdir, not the kit's settings
    with LiveMock(config=MockConfig(frozen=True)) as mock:
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:schemathesis",
                "-p",
                "no:hypothesispytest",
                "-n",
                "4",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env={**os.environ, "JOBS_MOCK_URL": mock.url, "SESSIONS_LOG": str(tmp_path / "sessions.log")},
        )
        took = time.monotonic() - started
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        assert "20 passed" in done.stdout, done.stdout[-1000:]
        assert mock.control("GET", "sessions")["sessions"] == []  # each deleted after its test
        names = set((tmp_path / "sessions.log").read_text().split())
        assert len(names) == 20 and {name.split("-")[0] for name in names} == {"gw0", "gw1", "gw2", "gw3"}
        token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}, timeout=10).json()
        shared = requests.get(f"{mock.url}/@jobs", headers={"Authorization": f"Bearer {token['token']}"}, timeout=10)
        assert len(shared.json()) == 7  # the shared state saw none of it
    print(f"pytest -n 4: 20 tests in {took:.1f} s")
