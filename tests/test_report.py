"""The report's renderings: terminal, JUnit XML, JSON and Markdown, from one set of results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from rich.console import Console

from verdicts.exchanges import Exchange, Request, Response
from verdicts.report import Report, render, to_json, to_junit, to_markdown
from verdicts.results import Outcome, Results

PHASES = ("reachability", "auth", "lifecycle", "schema")


def sample() -> Report:
    results = Results()
    results.passed("auth", "auth_no_token", "GET /@jobs")
    exchange = Exchange(
        Request("POST", "http://h/@jobs/1/abort", {"Authorization": "Bearer t"}),
        Response(204, {"Content-Type": "text/plain"}, ""),
    )
    results.check("lifecycle", "refusal_answer", "abortJob on created", ["Received 204 / Documented: 400"], exchange)
    results.not_exercised(
        "lifecycle", "transition_answer", "retryJob on failed", "no failed job available: pass --fixtures"
    )
    results.cell("created", "abortJob", Outcome.FAILED)
    results.cell("failed", "retryJob", Outcome.NOT_EXERCISED)
    return Report(
        "http://h", "spec.yaml", "mock", results, ("created", "failed"), ("abortJob", "retryJob"), 1.5, 7, PHASES
    )


def test_exit_code_is_1_with_a_failure_and_0_without() -> None:
    assert sample().exit_code == 1
    clean = Results()
    clean.passed("auth", "auth_no_token", "GET /@jobs")
    assert Report("http://h", "s", "none", clean, (), ()).exit_code == 0


def test_a_failure_sticks_in_its_matrix_cell() -> None:
    results = Results()
    results.cell("created", "abortJob", Outcome.FAILED)
    results.cell("created", "abortJob", Outcome.PASSED)
    results.cell("failed", "retryJob", Outcome.PASSED)
    results.cell("failed", "retryJob", Outcome.NOT_EXERCISED)
    assert results.cells == {("created", "abortJob"): Outcome.FAILED, ("failed", "retryJob"): Outcome.PASSED}


def test_junit_has_a_suite_per_phase_and_a_case_per_check() -> None:
    root = ET.fromstring(to_junit(sample()))
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == list(PHASES)
    lifecycle = suites["lifecycle"]
    assert (lifecycle.get("tests"), lifecycle.get("failures"), lifecycle.get("skipped")) == ("2", "1", "1")
    failure = lifecycle.find("testcase/failure")
    assert failure is not None and failure.get("message") == "Received 204 / Documented: 400"
    assert "curl -i -X POST" in (failure.text or "")
    skipped = lifecycle.find("testcase/skipped")
    assert skipped is not None and "pass --fixtures" in (skipped.get("message") or "")


def test_json_and_markdown_carry_the_matrix_and_the_failure() -> None:
    data = json.loads(to_json(sample()))
    assert data["exit_code"] == 1
    assert data["matrix"] == {
        "created": {"abortJob": "FAIL", "retryJob": ""},
        "failed": {"abortJob": "", "retryJob": "-"},
    }
    assert data["summary"]["lifecycle"] == {"passed": 0, "failed": 1, "not exercised": 1}
    markdown = to_markdown(sample())
    assert "| created | FAIL |  |" in markdown and "curl -i -X POST" in markdown and "## Not exercised" in markdown


def test_terminal_shows_the_failure_with_its_curl_and_why_a_check_did_not_run() -> None:
    console = Console(record=True, width=200)
    render(sample(), console)
    text = console.export_text()
    assert "refusal_answer [abortJob on created]" in text
    assert "reproduce: curl -i -X POST" in text
    assert "no failed job available: pass --fixtures" in text
    assert "NOT CONFORMANT: 1 checks failed, 1 checks passed; 1 not exercised" in text


def test_quiet_terminal_shows_only_failures_and_the_verdict() -> None:
    console = Console(record=True, width=200)
    render(sample(), console, verbosity=-1)
    text = console.export_text()
    assert "refusal_answer" in text and "Lifecycle coverage" not in text and "Not exercised" not in text


def test_the_verdict_says_what_it_rests_on_and_the_gate_fails_a_thin_run() -> None:
    results = Results()
    results.passed("auth", "auth_no_token", "GET /@jobs")
    results.not_exercised("lifecycle", "refusal_answer", "abortJob on created", "no fixtures")
    cells = (("created", "abortJob"),)
    report = Report("http://h", "s", "none", results, ("created",), ("abortJob",), phases=PHASES, cells=cells)
    assert report.verdict() == "CONFORMANT: 1 checks passed; 1 not exercised"
    assert report.exit_code == 0
    for gate, missing in [("all", "1 checks not exercised"), ("cells", "1 of 1 lifecycle cells"), ("60%", "50%")]:
        report.require = gate
        assert report.exit_code == 1 and missing in report.verdict(), report.verdict()
    report.require = "50%"
    assert report.exit_code == 0
    report.error = "login failed"
    assert report.exit_code == 2 and report.verdict().startswith("ERROR (the run stopped): login failed")
