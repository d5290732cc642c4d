"""Verifying what a client called: journal queries, LiveMock's assertions, the plugin's `jobs_mock` fixture."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID


def _traffic(admin: requests.Session, mock: LiveMock) -> int:
    """Some calls after the journal's current end: two reads of a job, one list, one abort; the seq before them."""
    entries = mock.control("GET", "journal")
    last = entries[-1]["seq"] if entries else 0
    admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}")
    admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}")
    admin.get(f"{mock.url}/@jobs")
    admin.post(f"{mock.url}/@jobs/no-such-job/abort")
    return int(last)


def test_journal_filters_combine_and_count(admin: requests.Session, mock: LiveMock) -> None:
    since = _traffic(admin, mock)
    query = f"operation=getJob&job={DOCUMENTED_ID}&status=200&method=get&since={since}"
    entries = requests.get(f"{mock.url}/__mock__/journal?{query}").json()
    assert [(e["operationId"], e["jobId"], e["status"], e["method"]) for e in entries] == [
        ("getJob", DOCUMENTED_ID, 200, "GET")
    ] * 2
    count = requests.get(f"{mock.url}/__mock__/journal/count?{query}")
    assert count.status_code == 200 and count.json() == {"count": 2}
    assert requests.get(f"{mock.url}/__mock__/journal/count?operation=abortJob&status=404").json() == {"count": 1}
    assert requests.get(f"{mock.url}/__mock__/journal/count?method=DELETE").json() == {"count": 0}
    later = requests.get(f"{mock.url}/__mock__/journal?since={entries[-1]['seq']}").json()
    assert [e["operationId"] for e in later][:2] == ["getJobs", "abortJob"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=abc", "status"),
        ("status=99", "status"),
        ("status=%2B200", "status"),
        ("since=-1", "since"),
        ("since=" + "9" * 40, "since"),
        ("operation=abortjob", "operation"),
        ("method=GE%20T", "method"),
        ("job=", "job"),
        ("stauts=200", "stauts"),
        ("status=200&status=204", "status"),
    ],
)
@pytest.mark.parametrize("path", ["journal", "journal/count"])
def test_a_bad_filter_is_a_400_naming_it(mock: LiveMock, path: str, query: str, parameter: str) -> None:
    response = requests.get(f"{mock.url}/__mock__/{path}?{query}")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "Bad Request" and error["message"].startswith(f"{parameter}: ")


def test_calls_and_assert_called(admin: requests.Session, mock: LiveMock) -> None:
    since = _traffic(admin, mock)
    assert len(mock.calls("getJob", job=DOCUMENTED_ID, since=since)) == 2
    assert [c["status"] for c in mock.calls(method="POST", since=since)] == [404]
    assert len(mock.assert_called("getJob", job=DOCUMENTED_ID, times=2, status=200)) == 2
    mock.assert_called("getJobs")
    mock.assert_not_called("deleteJob")
    with pytest.raises(AssertionError) as failed:
        mock.assert_called("getJob", job=DOCUMENTED_ID, times=1)
    message = str(failed.value)
    assert message.startswith(f"expected getJob(job='{DOCUMENTED_ID}') once, got twice.\nCalls of getJob:")
    assert message.count(f"/@jobs/{DOCUMENTED_ID}") == 2 and "seq" in message.splitlines()[2]


def test_a_failure_lists_every_call_when_none_of_the_operation(admin: requests.Session, mock: LiveMock) -> None:
    since = _traffic(admin, mock)
    with pytest.raises(AssertionError) as failed:
        mock.assert_called("retryJob", job="x", since=since)
    lines = str(failed.value).splitlines()
    assert lines[0] == f"expected retryJob(job='x', since={since}) at least once, got no call."
    assert lines[1] == "Calls instead:"
    assert [line.split()[3] for line in lines[3:]] == ["getJob", "getJob", "getJobs", "abortJob"]
    with pytest.raises(AssertionError, match=r"expected no abortJob\(status=404\), got once:\n  seq"):
        mock.assert_not_called("abortJob", status=404)
    mock.control("DELETE", "journal")
    with pytest.raises(AssertionError, match="got no call.\nThe journal is empty."):
        mock.assert_called("abortJob")


USER_TESTS = """
import pytest

from mockserver.config import MockConfig

ID = "a2fe7e07-d54b-435b-9cb0-e12f1f80a589"


@pytest.fixture(scope="session")
def jobs_mock_config():
    return MockConfig(frozen=True, seed=3, journal_size=50)


def test_abort_is_verified(jobs_mock):
    assert jobs_mock.url.startswith("http://127.0.0.1:")
    assert jobs_mock.admin.post(f"{jobs_mock.url}/@jobs/{ID}/abort").status_code == 400  # created: refused
    jobs_mock.assert_called("abortJob", job=ID, times=1)
    assert jobs_mock.state.config.journal_size == 50


def test_each_test_starts_from_a_reset_mock(jobs_mock):
    jobs_mock.assert_not_called("abortJob")
    assert jobs_mock.calls() == []
    jobs_mock.assert_called("getJobs", times=1)
"""


def test_the_plugin_ships_a_jobs_mock_fixture_for_users_tests(tmp_path: Path) -> None:
    (tmp_path / "test_frontend.py").write_text(textwrap.dedent(USER_TESTS))
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-W", "error", "test_frontend.py"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1, run.stdout[-3000:]  # the last test's getJobs was never called: a readable failure
    assert "1 failed, 1 passed" in run.stdout
    assert "expected getJobs once, got no call.\nE       The journal is empty." in run.stdout
    # The conformance options are still the plugin's, untouched by the fixture.
    usage = subprocess.run(
        [*command, "--jobs-base-url", "http://127.0.0.1:9", "--jobs-timeout", "zero"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert usage.returncode == 4 and "--jobs-timeout" in usage.stderr
