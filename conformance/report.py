"""The run's report: a terminal summary (rich), JUnit XML, JSON and Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from conformance.results import PHASES, CheckResult, Outcome, Results

TOKEN_HINT = (
    "The curl lines read tokens from shell variables: export JOBS_TOKEN (and JOBS_FORBIDDEN_TOKEN) "
    "to tokens from POST /@login first."
)
MARKS = {Outcome.PASSED: "pass", Outcome.FAILED: "FAIL", Outcome.NOT_EXERCISED: "-"}
STYLES = {Outcome.PASSED: "green", Outcome.FAILED: "bold red", Outcome.NOT_EXERCISED: "yellow"}


@dataclass
class Report:
    """Everything a run found, and how to show it."""

    base_url: str
    spec: str
    fixtures: str
    results: Results
    states: tuple[str, ...]
    columns: tuple[str, ...]
    elapsed: float = 0.0
    seed: int | None = None

    @property
    def exit_code(self) -> int:
        """0 conformant, 1 violations found."""
        return 1 if self.results.failed_count else 0

    def counts(self, phase: str) -> dict[Outcome, int]:
        """How many checks of a phase ended each way."""
        counts = dict.fromkeys(Outcome, 0)
        for result in self.results.of_phase(phase):
            counts[result.outcome] += 1
        return counts

    def matrix(self) -> dict[str, dict[str, str]]:
        """States x operations: pass, FAIL, - (not exercised) or empty (nothing to exercise)."""
        cells = self.results.cells
        return {s: {c: MARKS[cells[(s, c)]] if (s, c) in cells else "" for c in self.columns} for s in self.states}


def render(report: Report, console: Console, verbosity: int = 0) -> None:
    """The terminal summary: per phase, the coverage matrix, failures with curl, and the verdict."""
    if verbosity >= 0:
        console.print(_summary(report))
        console.print(_matrix(report))
    for result in report.results:
        if result.outcome is Outcome.FAILED or verbosity > 0:
            _render_result(console, result, verbosity)
    if any("$JOBS_" in finding.curl for result in report.results for finding in result.findings):
        console.print(TOKEN_HINT, markup=False, highlight=False, soft_wrap=True)
    if verbosity >= 0:
        _render_not_exercised(console, report)
    verdict = "[green]CONFORMANT[/]" if not report.exit_code else f"[bold red]{report.results.failed_count} FAILED[/]"
    where = f"spec {escape(report.spec)}, fixtures {escape(report.fixtures)}, seed {report.seed}"
    console.print(f"{verdict} in {report.elapsed:.1f} s ({where})", soft_wrap=True)


def _summary(report: Report) -> Table:
    table = Table(title=f"Conformance of {escape(report.base_url)}", title_justify="left")
    for column in ("phase", "passed", "failed", "not exercised"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for phase in PHASES:
        counts = report.counts(phase)
        table.add_row(phase, *(str(counts[o]) for o in Outcome))
    return table


def _matrix(report: Report) -> Table:
    table = Table(title="Lifecycle coverage (state x operation)", title_justify="left")
    table.add_column("state")
    for column in report.columns:
        table.add_column(column, justify="center")
    for state, row in report.matrix().items():
        table.add_row(state, *(_styled(mark) for mark in row.values()))
    return table


def _styled(mark: str) -> str:
    outcome = next((o for o, m in MARKS.items() if m == mark), None)
    return f"[{STYLES[outcome]}]{mark}[/]" if outcome else mark


def _render_result(console: Console, result: CheckResult, verbosity: int) -> None:
    style = STYLES[result.outcome]
    title = f"[{style}]{result.outcome.value.upper():>13}[/] {result.phase}: {escape(result.title)}"
    console.print(title, highlight=False, soft_wrap=True)
    for finding in result.findings[: 3 if verbosity < 2 else None]:
        lines = [finding.message]
        if finding.request:
            lines.append(f"request:  {finding.request['method']} {finding.request['url']}")
        if finding.response:
            body = str(finding.response["body"])[:300].replace("\n", " ")
            lines.append(f"response: {finding.response['status']} {body}")
        if finding.curl:
            lines.append(f"reproduce: {finding.curl}")
        console.print(_indent("\n".join(lines), 6), markup=False, highlight=False, soft_wrap=True)
    if len(result.findings) > 3 and verbosity < 2:
        console.print(f"      ... and {len(result.findings) - 3} more (-vv shows all)")


def _render_not_exercised(console: Console, report: Report) -> None:
    skipped = [r for r in report.results if r.outcome is Outcome.NOT_EXERCISED]
    if skipped:
        console.print(f"[yellow]Not exercised ({len(skipped)}):[/]")
    reasons: dict[str, list[str]] = {}
    for result in skipped:
        reasons.setdefault(result.reason, []).append(f"{result.phase}: {result.title}")
    for reason, titles in reasons.items():
        console.print(f"  - {reason}\n" + _indent(", ".join(titles), 6), markup=False, highlight=False, soft_wrap=True)


def _indent(text: str, width: int) -> str:
    return "\n".join(" " * width + line for line in text.splitlines())


def to_junit(report: Report) -> str:
    """JUnit XML: one test suite per phase, one test case per check."""
    root = ET.Element("testsuites", name="jobs-conformance", time=f"{report.elapsed:.3f}")
    for phase in PHASES:
        results = report.results.of_phase(phase)
        counts = report.counts(phase)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=phase,
            tests=str(len(results)),
            failures=str(counts[Outcome.FAILED]),
            skipped=str(counts[Outcome.NOT_EXERCISED]),
            errors="0",
        )
        for result in results:
            case = ET.SubElement(suite, "testcase", classname=f"jobs-conformance.{phase}", name=result.title)
            if result.outcome is Outcome.FAILED:
                failure = ET.SubElement(case, "failure", message=result.findings[0].message.splitlines()[0])
                failure.text = "\n\n".join(_finding_text(f) for f in result.findings)
            elif result.outcome is Outcome.NOT_EXERCISED:
                ET.SubElement(case, "skipped", message=result.reason)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _finding_text(finding: Any) -> str:
    lines = [finding.message]
    if finding.request:
        lines.append(f"Request: {finding.request['method']} {finding.request['url']}")
    if finding.response:
        lines.append(f"Response: {finding.response['status']} {finding.response['body']}")
    if finding.curl:
        lines.append(f"Reproduce: {finding.curl}")
    return "\n".join(lines)


def to_json(report: Report) -> str:
    """The whole report as JSON."""
    data = {
        "base_url": report.base_url,
        "spec": report.spec,
        "fixtures": report.fixtures,
        "seed": report.seed,
        "elapsed": round(report.elapsed, 3),
        "exit_code": report.exit_code,
        "summary": {phase: {o.value: n for o, n in report.counts(phase).items()} for phase in PHASES},
        "matrix": report.matrix(),
        "checks": [{**asdict(r), "outcome": r.outcome.value} for r in report.results],
    }
    return json.dumps(data, indent=2, default=str)


def to_markdown(report: Report) -> str:
    """A Markdown report, for a CI job summary or a pull request comment."""
    verdict = "conformant" if not report.exit_code else f"{report.results.failed_count} checks failed"
    lines = [f"# Conformance of {report.base_url}: {verdict}", "", "| phase | passed | failed | not exercised |"]
    lines.append("|---|---:|---:|---:|")
    for phase in PHASES:
        counts = report.counts(phase)
        lines.append(f"| {phase} | " + " | ".join(str(counts[o]) for o in Outcome) + " |")
    lines += ["", "## Lifecycle coverage", "", "| state | " + " | ".join(report.columns) + " |"]
    lines.append("|---|" + "---|" * len(report.columns))
    for state, row in report.matrix().items():
        lines.append(f"| {state} | " + " | ".join(row.values()) + " |")
    failed = [r for r in report.results if r.outcome is Outcome.FAILED]
    if failed:
        lines += ["", "## Failures"]
    for result in failed:
        lines += ["", f"### {result.phase}: {result.title}", "", "```", _finding_text(result.findings[0]), "```"]
    skipped = [r for r in report.results if r.outcome is Outcome.NOT_EXERCISED]
    if skipped:
        lines += ["", "## Not exercised", ""]
        lines += [f"- {r.phase}: {r.title}: {r.reason}" for r in skipped]
    return "\n".join(lines) + "\n"
