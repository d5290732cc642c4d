"""The kit against the real Nick 2.8.0: the suite's verdict, the differential with the mock, the spec.

Real Nick (tests/nick.py) with the jobs route of examples/nick-site, and stock Nick without one.
What the kit reports against it must be Nick's own bugs (conformance.nickbugs), each pinned here,
and nothing else. Skipped with the reason where real Nick cannot run; never under CI=true.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from conformance import drift
from conformance.cli import main as conformance
from conformance.drift_cli import main as jobs_drift
from conformance.nickbugs import NICK_BUGS
from jobspec import load_spec
from jobsproxy.operations import OperationMap
from mockserver.config import MockConfig
from mockserver.testing import LiveMock
from tests.nick import EDITOR, RealNick
from tests.test_nick_site import started
from verdicts.checks import documented_problems
from verdicts.exchanges import Exchange, Request, Response

SEED = "20261206"
FORBIDDEN = ["--forbidden-login", EDITOR[0], "--forbidden-password", EDITOR[1]]
JOB_OPERATIONS = (
    "GET /@jobs",
    "GET /@jobs/{id}",
    "DELETE /@jobs/{id}",
    "POST /@jobs/{id}/abort",
    "POST /@jobs/{id}/retry",
)
# Every check the suite fails against Nick with the example site, and the Nick bug that fails it.
SUITE_FINDS = {
    **{("auth", "auth_unknown_user_token", op): "unknown-user-token" for op in ("POST /@login-renew", *JOB_OPERATIONS)},
    ("auth", "login_refuses_malformed_body", "login"): "password-not-a-string",  # and body-parser-html
    ("schema", "not_a_server_error", "POST /@login"): "unparsed-login-body",
    ("schema", "status_code_conformance", "POST /@login"): "unparsed-login-body",
    ("schema", "content_type_conformance", "POST /@login"): "body-parser-html",
}
# What schemathesis may also find, by the data it draws: the same bugs, through other checks.
SCHEMA_MAY_FIND = {
    ("schema", "negative_data_rejection", "POST /@login"): "body-parser-html",
    ("schema", "positive_data_acceptance", "POST /@login"): "unparsed-login-body",
    ("schema", "response_schema_conformance", "POST /@login"): "body-parser-html",
    ("schema", "not_a_server_error", "POST /@login-renew"): "unknown-user-token",
}
# The differences jobs-drift knows against Nick with the site: its bugs, and the mock's deliberate choices.
DRIFT_KNOWN_BUGS = {
    "unknown-user-token",
    "unparsed-login-body",
    "password-not-a-string",
    "body-parser-html",
    "unrouted-method-html",
    "array-login",
}


@pytest.fixture(scope="module")
def nick() -> Iterator[RealNick]:
    """Nick with the example site's jobs route and worker (a high login limit: the suite logs in often)."""
    yield from started(lambda: RealNick(jobs=True))


@pytest.fixture(scope="module")
def stock() -> Iterator[RealNick]:
    """Stock Nick 2.8.0: no jobs API."""
    yield from started(lambda: RealNick(jobs=False))


def failed_checks(report: Path) -> set[tuple[str, str, str]]:
    data = json.loads(report.read_text())
    return {(c["phase"], c["name"], c["subject"]) for c in data["checks"] if c["outcome"] == "failed"}


def test_the_suite_fails_nick_with_the_jobs_route_on_nicks_own_bugs_only(nick: RealNick, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code = conformance(
        ["--base-url", nick.url, "--fixtures", nick.fixture_command, *FORBIDDEN, "--seed", SEED]
        # The worker watch's budget (--timeout) for a loaded CI machine: the site's worker is one of Nick's tasks, run
        # on its own schedule; the watch ends as soon as the jobs made to watch have settled.
        + ["--report", str(report), "--require", "all", "--timeout", "30", "-q"]
    )
    failed = failed_checks(report)
    assert code == 1
    unexplained = failed - SUITE_FINDS.keys() - SCHEMA_MAY_FIND.keys()
    assert not unexplained, f"failures that are not Nick's known bugs: {sorted(unexplained)}"
    assert SUITE_FINDS.keys() <= failed, f"Nick bugs the suite no longer finds: {sorted(SUITE_FINDS.keys() - failed)}"
    assert set(SUITE_FINDS.values()) | set(SCHEMA_MAY_FIND.values()) <= NICK_BUGS.keys()
    data = json.loads(report.read_text())
    idle = [check for check in data["checks"] if check["outcome"] == "not exercised"]
    assert all(phase["not exercised"] == 0 for phase in data["summary"].values()), f"not exercised: {idle}"


def test_drift_between_nick_with_the_jobs_route_and_the_mock_is_only_the_known_differences(
    nick: RealNick, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "drift.json"
    code = jobs_drift(["--base-url", nick.url, *FORBIDDEN, "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out
    data = json.loads(report.read_text())
    assert data["same"] > 100
    bugs = {d["known"]["nickBug"] for d in data["differences"] if d["known"]["nickBug"]}
    assert bugs == DRIFT_KNOWN_BUGS, out
    assert not [name for name in data["notSent"] if not name.startswith("rate-limit/")], data["notSent"]


def test_drift_with_stock_nick_leaves_out_the_jobs_api_it_lacks(
    stock: RealNick, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jobs_drift(["--base-url", stock.url, *FORBIDDEN]) == 0
    out = capsys.readouterr().out
    assert "NO DRIFT" in out and "the deployment has no jobs API" in out


def test_the_rate_limit_answers_as_nicks_own_with_its_stock_setting(tmp_path: Path) -> None:
    with (
        RealNick(jobs=True, auth_rate_limit=5) as limited,
        LiveMock(config=MockConfig(rate_limits=(("AUTH_RATE_LIMIT", 5),))) as mock,
    ):
        found = drift.compare(
            drift.Side(limited.url, "admin", "admin", EDITOR, "secret"),
            drift.Side(mock.url, "admin", "admin", None, "secret"),
            probes=(),
        )
    assert drift.RATE_LIMIT_PROBE not in found.skipped
    assert found.same == 1 and not found.differences, [d.deployment.show() for d in found.differences]


def test_the_suite_at_nicks_stock_login_limit_says_how_many_logins_it_needs(tmp_path: Path) -> None:
    with RealNick(jobs=True, auth_rate_limit=5) as limited:
        report = tmp_path / "report.json"
        code = conformance(["--base-url", limited.url, "--fixtures", limited.fixture_command, "--report", str(report)])
    error = json.loads(report.read_text())["error"]
    assert code == 2
    assert "AUTH_RATE_LIMIT" in error and "this run sends about" in error and "does not look like" not in error


def test_against_stock_nick_the_suite_names_the_missing_jobs_api_and_its_body(
    stock: RealNick, capsys: pytest.CaptureFixture[str]
) -> None:
    assert conformance(["--base-url", stock.url, *FORBIDDEN]) == 2
    err = capsys.readouterr().err
    assert "no jobs API" in err and "Not found: /@jobs" in err and "--phases auth" in err


def test_against_stock_nick_the_auth_phase_runs_and_finds_nicks_bugs_only(stock: RealNick, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code = conformance(["--base-url", stock.url, *FORBIDDEN, "--phases", "auth", "--report", str(report), "-q"])
    assert code == 1
    assert failed_checks(report) == {
        ("auth", "auth_unknown_user_token", "POST /@login-renew"),
        ("auth", "login_refuses_malformed_body", "login"),
    }
    data = json.loads(report.read_text())
    passed = {(c["name"], c["subject"]) for c in data["checks"] if c["outcome"] == "passed"}
    assert {("renewed_token_works", "renewLogin"), ("logout_ends_the_session", "logout")} <= passed


def _exchange(response: requests.Response) -> Exchange:
    try:
        data: Any = response.json() if response.content else None
    except ValueError:
        data = None
    request = Request(str(response.request.method), str(response.request.url))
    return Exchange(request, Response(response.status_code, dict(response.headers), response.text[:2000], data))


def test_nicks_answers_to_the_specs_operations_are_valid_by_the_spec_but_for_its_bugs(nick: RealNick) -> None:
    spec = load_spec()
    operations = OperationMap(spec)
    side = drift.Side(nick.url, "admin", "admin", EDITOR, "secret")
    known = {entry.probe for entry in drift.KNOWN}  # Nick's bugs, and paths outside the contract (content paths)
    judged, problems = 0, {}
    for probe in drift.PROBES:
        matched = operations.match(probe.method, probe.path)
        if probe.language or matched is None or probe.name in known:
            continue  # translated texts are not the spec's; a request of no operation has no documented answer
        found = documented_problems(matched[0], _exchange(side.send(probe)))
        judged += 1
        if found:
            problems[probe.name] = found
    assert judged > 50
    assert not problems, problems
