"""The report's renderings: terminal, JUnit XML, JSON and Markdown, from one set of results."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import pytest
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


def thin(gate: str | None) -> Report:
    """A run that exercised one of its two checks (and one lifecycle cell of two), gated by `gate`."""
    results = Results()
    results.passed("lifecycle", "refusal_answer", "abortJob on created")
    results.cell("created", "abortJob", Outcome.PASSED)
    results.not_exercised("lifecycle", "transition_answer", "retryJob on failed", "no failed job: pass --fixtures")
    cells = (("created", "abortJob"), ("failed", "retryJob"))
    states, columns = ("created", "failed"), ("abortJob", "retryJob")
    return Report("http://h", "s", "none", results, states, columns, phases=PHASES, cells=cells, require=gate)


@pytest.mark.parametrize(
    ("gate", "problem", "missing"),
    [
        pytest.param(
            "all", "1 checks not exercised", "transition_answer [retryJob on failed]: no failed job", id="all"
        ),
        pytest.param("cells", "1 of 2 lifecycle cells not exercised", "failed x retryJob", id="cells"),
        pytest.param("60%", "50% of the checks exercised, 60% required", "transition_answer", id="share"),
    ],
)
def test_junit__a_missed_coverage_gate_is_a_failed_test_case_naming_what_it_misses(
    gate: str, problem: str, missing: str
) -> None:
    report = thin(gate)
    root = ET.fromstring(to_junit(report))
    case = root.find("testsuite[@name='coverage']/testcase")
    assert report.exit_code == 1 and case is not None
    assert (case.get("classname"), case.get("name")) == ("jobs-conformance.coverage", "require")
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == f"coverage below --require {gate}: {problem}"
    assert missing in (failure.text or "")
    suite = root.find("testsuite[@name='coverage']")
    assert suite is not None and suite.get("failures") == "1" and root.get("failures") == "1"


def test_junit__a_met_gate_is_a_passed_test_case_an_unjudged_one_skipped_and_no_gate_no_case() -> None:
    met = ET.fromstring(to_junit(thin("50%")))
    case = met.find("testsuite[@name='coverage']/testcase")
    assert case is not None and list(case) == [] and met.get("failures") == "0"
    stopped = thin("all")
    stopped.error = "login failed"
    root = ET.fromstring(to_junit(stopped))
    assert root.find("testsuite[@name='coverage']/testcase/skipped") is not None
    assert root.find("testsuite[@name='run']/testcase/error") is not None and root.get("errors") == "1"
    assert ET.fromstring(to_junit(thin(None))).find("testsuite[@name='coverage']") is None


def test_junit__every_case_names_its_phase_and_the_time_spent_on_its_check() -> None:
    results = Results()
    results.start()
    time.sleep(0.2)
    results.passed("auth", "auth_no_token", "GET /@jobs")
    results.passed("auth", "auth_garbage_token", "GET /@jobs")
    results.not_exercised("lifecycle", "transition_answer", "retryJob on failed", "no failed job")
    report = Report("http://h", "s", "none", results, (), (), phases=PHASES)
    cases = {case.get("name"): case for case in ET.fromstring(to_junit(report)).iter("testcase")}
    assert {case.get("classname") for case in cases.values()} == {"jobs-conformance.auth", "jobs-conformance.lifecycle"}
    times = {name: float(case.get("time", "-1")) for name, case in cases.items()}
    assert times["auth_no_token [GET /@jobs]"] >= 0.2, times  # the time until its result, not the first one's
    assert times["auth_garbage_token [GET /@jobs]"] < 0.1, times
    assert 0 <= times["transition_answer [retryJob on failed]"] < 0.1, times


def test_results__a_check_is_charged_the_time_since_the_record_before_and_absorbs_a_helpers_time() -> None:
    results = Results()
    time.sleep(0.1)
    results.passed("auth", "a", "x")
    results.start()  # what came between two phases is no check's
    time.sleep(0.1)
    results.passed("auth", "b", "x")
    results.passed("auth", "a", "x")
    helper = Results()
    time.sleep(0.1)
    helper.passed("auth", "b", "x")
    results.absorb(helper)
    seconds = {result.name: result.seconds or 0.0 for result in results}
    assert 0.1 <= seconds["a"] < 0.2 and 0.2 <= seconds["b"] < 0.3, seconds


def test_untimed_results_leave_the_time_out_of_the_junit() -> None:
    results = Results(timed=False)
    results.passed("answers", "documented_answer", "listJobs")
    report = Report("http://h", "s", "traffic", results, (), (), phases=("answers",))
    case = ET.fromstring(to_junit(report)).find("testsuite/testcase")
    assert case is not None and case.get("time") is None and case.get("classname") == "jobs-conformance.answers"


def test_terminal__a_run_stopped_before_its_first_phase_shows_no_tables() -> None:
    results = Results()
    results.passed("reachability", "reachable", "http://h")
    report = Report("http://h", "s", "none", results, ("created",), ("abortJob",), phases=PHASES, error="login failed")
    console = Console(record=True, width=200)
    render(report, console)
    text = console.export_text()
    assert "┃" not in text and "Lifecycle coverage" not in text and "login failed" in text
