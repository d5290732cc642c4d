"""`jobs-proxy` end to end: usage errors (exit 2, one line), and the installed script run until a signal, its reports."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from jobsproxy.cli import main
from tests.fakejobs import Violation, make_job, serve
from tests.rawupstream import NEVER, RawUpstream, answer
from tests.traffic import frontend_session

SCRIPT = Path(sys.executable).parent / "jobs-proxy"


def run_main(argv: list[str]) -> int:
    """`main` on a thread of its own: it runs its own event loop, and the browser tests leave one in this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(main, argv).result(timeout=60)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve() as server:
        yield server.url


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([], "the following arguments are required: --upstream", id="no-upstream"),
        pytest.param(["--upstream", "ftp://example.org"], "--upstream must be an http(s) URL", id="scheme"),
        pytest.param(["--upstream", "http://h:99999"], "--upstream is not a valid URL", id="bad-port"),
        pytest.param(["--upstream", "http://h?x=1"], "--upstream takes no query or fragment", id="query"),
        pytest.param(["--upstream", "http://h", "--port", "70000"], "70000 is not a port", id="port"),
        pytest.param(["--upstream", "http://h", "--max-check-bytes", "0"], "must be at least 1", id="cap"),
        pytest.param(["--upstream", "http://h", "--upstream-timeout", "0"], "greater than 0", id="upstream-timeout"),
        pytest.param(["--upstream", "http://h", "--request-timeout", "nan"], "greater than 0", id="request-timeout"),
        pytest.param(["--upstream", "http://h", "--idle-timeout", "x"], "a number of seconds", id="idle-timeout"),
        pytest.param(["--upstream", "http://h", "--allowed-host", "http://a"], "a host name without", id="host"),
        pytest.param(["--upstream", "http://h", "--journal-size", "0"], "must be at least 1", id="journal-size"),
        pytest.param(["--upstream", "http://h", "--max-jobs", "-1"], "must be at least 1", id="max-jobs"),
        pytest.param(["--upstream", "http://h", "--spec", "/nonexistent.yaml"], "cannot read the spec", id="spec"),
        pytest.param(["--upstream", "http://127.0.0.1:{closed}"], "is unreachable", id="unreachable"),
    ],
)
def test_usage_and_setup_errors__exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [arg.format(closed=unused_port()) for arg in argv]
    assert run_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_a_port_in_use__exit_2_with_one_line(upstream: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert run_main(["--upstream", upstream, "--port", str(taken.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert "cannot listen on 127.0.0.1:" in err and err.count("\n") == 1, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("jobs-proxy 0.")


def start(argv: list[str]) -> tuple[subprocess.Popen[str], str]:
    """The installed script, listening on a free port: the process and its URL (read from its first line)."""
    process = subprocess.Popen(
        [str(SCRIPT), "--port", "0", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("Proxying http://127.0.0.1:"), first + (process.stderr.read() if process.stderr else "")
    return process, first.split()[1]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_script__violations_printed_as_they_happen_reports_at_exit_and_exit_1(tmp_path: Path, signum: int) -> None:
    reports = {"--report": tmp_path / "r.json", "--junit": tmp_path / "r.xml", "--markdown": tmp_path / "r.md"}
    with serve(Violation.ABORT_IGNORED) as server:
        flags = [str(part) for pair in reports.items() for part in pair]
        process, url = start(["--upstream", server.url, "--fail-on-violation", *flags])
        frontend_session(url)
        assert requests.get(f"{url}/__proxy__/violations", timeout=10).status_code == 200
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)

    assert process.returncode == 1, err
    assert "VIOLATION transition_result [abortJob on running]: GET " in out
    assert out.index("VIOLATION") < out.index("jobs-proxy: shutting down")
    data = json.loads(reports["--report"].read_text())
    assert data["verdict"].startswith("VIOLATIONS: ") and data["violations"][0]["check"] == "transition_result"
    assert data["upstream"] == server.url and data["calls"]["abortJob"]["204"] == 2  # the job runs on: aborted twice
    suites = ET.parse(reports["--junit"]).getroot()
    assert suites.get("name") == "jobs-proxy"
    assert any(case.find("failure") is not None for case in suites.iter("testcase"))
    markdown = reports["--markdown"].read_text()
    assert markdown.startswith(f"# jobs-proxy: traffic to {server.url}") and "## Traffic" in markdown
    assert "VIOLATIONS:" in out.splitlines()[-1]


def test_script__no_violation_exit_0(upstream: str, tmp_path: Path) -> None:
    process, url = start(["--upstream", upstream, "--fail-on-violation", "--report", str(tmp_path / "r.json")])
    frontend_session(url)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, out + err
    assert "VIOLATION " not in out
    assert json.loads((tmp_path / "r.json").read_text())["verdict"].startswith("NO VIOLATIONS in ")


def test_script__sigterm_while_the_upstream_never_answers_one_request__the_rest_judged_exit_1(tmp_path: Path) -> None:
    """Issue 27, item 8: one request left unanswered blinded the proxy ("NO VIOLATIONS in 0 exchanges", exit 0)."""
    job = make_job("created")
    stuck_path = f"/@jobs/{job['uuid']}"
    answers = {stuck_path: NEVER, "/@jobs": answer(200, [{"uuid": job["uuid"]}])}  # a job without its fields
    with RawUpstream(answers) as upstream:
        process, url = start(["--upstream", upstream.url, "--fail-on-violation", "--report", str(tmp_path / "r.json")])
        stuck = threading.Thread(target=_unanswered, args=(f"{url}{stuck_path}",), daemon=True)
        stuck.start()
        while stuck_path not in upstream.paths():
            time.sleep(0.01)
        statuses = [requests.get(f"{url}/@jobs", headers=AUTH, timeout=10).status_code for _ in range(10)]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert statuses == [200] * 10
    assert process.returncode == 1, out + err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"].startswith("VIOLATIONS: 10 in 11 exchanges"), report["verdict"]
    assert report["without_a_whole_answer"] == 1
    assert [note["message"] for note in report["notes"]] == [
        "no answer from the upstream: the proxy stopped before the upstream answered"
    ]


AUTH = {"Authorization": "Bearer a-token-nobody-checks"}


def _unanswered(url: str) -> None:
    try:
        requests.get(url, headers=AUTH, timeout=60)
    except requests.RequestException:
        pass  # the proxy ends it as it stops
