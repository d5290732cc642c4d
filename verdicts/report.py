"""A run's report, the suite's or the proxy's: a terminal summary (rich), JUnit XML, JSON, Markdown and HTML."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jobspec import Lifecycle, diagram
from verdicts.results import SETUP, CheckResult, Outcome, Results

TOKEN_HINT = (
    "The curl lines read tokens from shell variables: export JOBS_TOKEN (and JOBS_FORBIDDEN_TOKEN) "
    "to tokens from POST /@login first."
)
MARKS = {Outcome.PASSED: "pass", Outcome.FAILED: "FAIL", Outcome.NOT_EXERCISED: "-"}
# The coverage gate (--require) as reports name it: JUnit's test suite and test case, the pytest plugin's test.
GATE_SUITE = "coverage"
GATE_CASE = "require"
STYLES = {Outcome.PASSED: "green", Outcome.FAILED: "bold red", Outcome.NOT_EXERCISED: "yellow"}


@dataclass
class Report:
    """Everything a run found, what it rests on, and how to show it."""

    base_url: str
    spec: str
    fixtures: str
    results: Results
    states: tuple[str, ...]
    columns: tuple[str, ...]
    elapsed: float = 0.0
    seed: int | None = None
    phases: tuple[str, ...] = ()
    require: str | None = None  # the coverage gate: all, cells or N%
    require_flag: str = "--require"
    cells: tuple[tuple[str, str], ...] = ()  # every cell of the matrix with something to exercise
    error: str = ""  # why the run stopped early (exit 2)
    trace: str = ""  # the traceback of an unexpected exception
    interrupted: str = ""  # the signal that ended the run where it stood (Ctrl-C, SIGTERM), if one did
    lifecycle: Lifecycle | None = None  # the spec's lifecycle, for the reports' diagram
    tool = "jobs-conformance"  # the command the reports name (JUnit's suites, Markdown's title)

    @property
    def title(self) -> str:
        """What the report is about, as its headings say."""
        return f"Conformance of {self.base_url}"

    def context(self) -> str:
        """What the verdict rests on besides the counts, for the closing line."""
        return f"{self.elapsed:.1f} s; spec {self.spec}, fixtures {self.fixtures}, seed {self.seed}"

    @property
    def exit_code(self) -> int:
        """0 conformant, 1 violations found or coverage below the gate, 2 the run could not finish."""
        if self.error:
            return 2
        return 1 if self.results.failed_count or self.gate_problem() else 0

    def counts(self, phase: str) -> dict[Outcome, int]:
        """How many checks of a phase ended each way."""
        counts = dict.fromkeys(Outcome, 0)
        for result in self.results.of_phase(phase):
            counts[result.outcome] += 1
        return counts

    def matrix(self) -> dict[str, dict[str, str]]:
        """States x operations: pass, FAIL, - (not exercised) or empty (nothing to exercise)."""
        cells = self.results.cells
        expected = set(self.cells)
        return {
            s: {
                c: MARKS[cells.get((s, c), Outcome.NOT_EXERCISED)] if (s, c) in expected | set(cells) else ""
                for c in self.columns
            }
            for s in self.states
        }

    @property
    def started(self) -> bool:
        """Whether a phase recorded anything: a run that stopped while reaching the deployment or logging in did not."""
        return any(result.phase != SETUP for result in self.results)

    def verdicts(self) -> dict[tuple[str, str], str]:
        """Each lifecycle cell's verdict (passed, failed, not exercised), for the coloured diagram."""
        cells = self.results.cells
        return {cell: str(cells.get(cell, Outcome.NOT_EXERCISED)) for cell in {*self.cells, *cells}}

    def gate_problem(self) -> str:
        """What the coverage gate (--require) misses; empty when met or when there is none."""
        passed, failed = self.results.count(Outcome.PASSED), self.results.count(Outcome.FAILED)
        missing = self.results.count(Outcome.NOT_EXERCISED)
        if self.require is None:
            return ""
        if self.require == "all":
            return f"{missing} checks not exercised" if missing else ""
        if self.require == "cells":
            lacking = [
                cell
                for cell in self.cells
                if self.results.cells.get(cell, Outcome.NOT_EXERCISED) is Outcome.NOT_EXERCISED
            ]
            return f"{len(lacking)} of {len(self.cells)} lifecycle cells not exercised" if lacking else ""
        share = 100.0 * (passed + failed) / max(1, passed + failed + missing)
        wanted = float(self.require.rstrip("%"))
        return f"{share:.0f}% of the checks exercised, {wanted:g}% required" if share < wanted else ""

    def gate_shortfall(self) -> list[str]:
        """What the coverage gate counted as missing, one line each: the lifecycle cells for `cells`, else the checks
        not exercised, with why."""
        if self.require == "cells":
            missing = Outcome.NOT_EXERCISED
            return [f"{s} x {c}" for s, c in self.cells if self.results.cells.get((s, c), missing) is missing]
        return [f"{r.phase}: {r.title}: {r.reason}" for r in self.results if r.outcome is Outcome.NOT_EXERCISED]

    def gate_failure(self) -> str:
        """Why the run fails its coverage gate, with what it misses; empty when it does not."""
        problem = self.gate_problem()
        if not problem:
            return ""
        return f"coverage below {self.require_flag} {self.require}: {problem}\n" + "\n".join(self.gate_shortfall())

    def verdict(self) -> str:
        """The closing line: the verdict and what it rests on."""
        passed, failed = self.results.count(Outcome.PASSED), self.results.count(Outcome.FAILED)
        counts = f"{passed} checks passed; {self.results.count(Outcome.NOT_EXERCISED)} not exercised"
        if self.error:
            return f"ERROR (the run stopped): {self.error}; until then {failed} failed, {counts}"
        if failed:
            return f"NOT CONFORMANT: {failed} checks failed, {counts}"
        gate = self.gate_problem()
        if gate:
            return f"NOT CONFORMANT: coverage below {self.require_flag} {self.require} ({gate}); {counts}"
        return f"CONFORMANT: {counts}"


def render(report: Report, console: Console, verbosity: int = 0) -> None:
    """The terminal summary: per phase, the coverage matrix, failures with curl, and the verdict."""
    if verbosity >= 0 and report.started:  # no tables of zeros for a run that stopped before its first phase
        console.print(_summary(report))
        console.print(_matrix(report))
    for result in report.results:
        if result.outcome is Outcome.FAILED or verbosity > 0:
            _render_result(console, result, verbosity)
    if any("$JOBS_" in finding.curl for result in report.results for finding in result.findings):
        console.print(TOKEN_HINT, markup=False, highlight=False, soft_wrap=True)
    if verbosity >= 0:
        _render_not_exercised(console, report)
    style = "green" if report.exit_code == 0 else "bold red"
    console.print(
        f"[{style}]{escape(report.verdict())}[/] ({escape(report.context())})", soft_wrap=True, highlight=False
    )


def _summary(report: Report) -> Table:
    table = Table(title=escape(report.title), title_justify="left")
    for column in ("phase", "passed", "failed", "not exercised"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for phase in report.phases:
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
    """JUnit XML: one test suite per phase, one test case per check with the time spent on it; the coverage gate
    (`--require`) a test case of its own, failed when the run misses it; a run that stopped early an error."""
    root = ET.Element("testsuites", name=report.tool, time=f"{report.elapsed:.3f}")
    for phase in report.phases:
        results = report.results.of_phase(phase)
        counts = report.counts(phase)
        suite = _suite(root, phase, len(results), counts[Outcome.FAILED], counts[Outcome.NOT_EXERCISED])
        spent = [r.seconds for r in results if r.seconds is not None]
        if spent:
            suite.set("time", f"{sum(spent):.3f}")
        for result in results:
            case = _case(suite, report, phase, result.title, result.seconds)
            if result.outcome is Outcome.FAILED:
                failure = ET.SubElement(case, "failure", message=result.findings[0].message.splitlines()[0])
                failure.text = "\n\n".join(_finding_text(f) for f in result.findings)
            elif result.outcome is Outcome.NOT_EXERCISED:
                ET.SubElement(case, "skipped", message=result.reason)
    if report.require is not None:
        _gate_case(root, report)
    if report.error:  # the run stopped early: a CI's report step shows why
        suite = _suite(root, "run", 1, errors=1)
        case = _case(suite, report, "run", "run to the end")
        error = ET.SubElement(case, "error", message=report.error)
        error.text = report.trace or report.error
        if report.interrupted:
            error.set("type", "interrupted")
    for total in ("tests", "failures", "skipped", "errors"):
        root.set(total, str(sum(int(suite.get(total, "0")) for suite in root)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _suite(root: ET.Element, name: str, tests: int, failures: int = 0, skipped: int = 0, errors: int = 0) -> ET.Element:
    counts = {"tests": tests, "failures": failures, "skipped": skipped, "errors": errors}
    return ET.SubElement(root, "testsuite", {"name": name, **{key: str(value) for key, value in counts.items()}})


def _case(suite: ET.Element, report: Report, group: str, name: str, seconds: float | None = None) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=f"{report.tool}.{group}", name=name)
    if seconds is not None:
        case.set("time", f"{seconds:.3f}")
    return case


def _gate_case(root: ET.Element, report: Report) -> None:
    """The coverage gate's test case: failed when the run misses it, skipped when the run stopped before its end."""
    failure = "" if report.error else report.gate_failure()
    suite = _suite(root, GATE_SUITE, 1, failures=int(bool(failure)), skipped=int(bool(report.error)))
    case = _case(suite, report, GATE_SUITE, GATE_CASE)
    if report.error:
        ET.SubElement(case, "skipped", message="the run stopped early: its coverage was not judged")
    elif failure:
        message = failure.splitlines()[0]
        ET.SubElement(case, "failure", message=message).text = failure


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
        "verdict": report.verdict(),
        "error": report.error,
        "interrupted": report.interrupted or None,
        "require": report.require,
        "summary": {phase: {o.value: n for o, n in report.counts(phase).items()} for phase in report.phases},
        "matrix": report.matrix(),
        "checks": [{**asdict(r), "outcome": r.outcome.value} for r in report.results],
    }
    return json.dumps(data, indent=2, default=str)


def to_markdown(report: Report) -> str:
    """A Markdown report, for a CI job summary or a pull request comment."""
    lines = [
        f"# {report.title}",
        "",
        f"**{report.verdict()}**",
        "",
        "| phase | passed | failed | not exercised |",
    ]
    lines.append("|---|---:|---:|---:|")
    for phase in report.phases:
        counts = report.counts(phase)
        lines.append(f"| {phase} | " + " | ".join(str(counts[o]) for o in Outcome) + " |")
    lines += ["", "## Lifecycle coverage", "", "| state | " + " | ".join(report.columns) + " |"]
    lines.append("|---|" + "---|" * len(report.columns))
    for state, row in report.matrix().items():
        lines.append(f"| {state} | " + " | ".join(row.values()) + " |")
    if report.lifecycle is not None:
        lines += ["", "## Lifecycle", "", f"Each arrow coloured by its cell's verdict ({diagram.legend()}).", ""]
        lines += ["```mermaid", diagram.mermaid(report.lifecycle, report.verdicts()).rstrip("\n"), "```"]
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


def to_html(report: Report) -> str:
    """A self-contained HTML report (one file, no scripts): verdict, counts, the coloured lifecycle, failures."""
    page = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>{HTML_STYLE}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="verdict {"ok" if report.exit_code == 0 else "bad"}">{html.escape(report.verdict())}</p>',
        f'<p class="context">{html.escape(report.context())}</p>',
        _html_table(["phase", "passed", "failed", "not exercised"], _phase_rows(report)),
        "<h2>Lifecycle coverage</h2>",
        _html_table(["state", *report.columns], [[s, *row.values()] for s, row in report.matrix().items()]),
    ]
    if report.lifecycle is not None:
        page += ["<h2>Lifecycle</h2>", f'<p class="legend">{_html_legend()}</p>', _html_diagram(report)]
    failed = [r for r in report.results if r.outcome is Outcome.FAILED]
    if failed:
        page.append("<h2>Failures</h2>")
    for result in failed:
        page.append(f"<h3>{html.escape(result.phase)}: {html.escape(result.title)}</h3>")
        page.append(f"<pre>{html.escape(_finding_text(result.findings[0]))}</pre>")
    skipped = [r for r in report.results if r.outcome is Outcome.NOT_EXERCISED]
    if skipped:
        items = "".join(f"<li>{html.escape(f'{r.phase}: {r.title}: {r.reason}')}</li>" for r in skipped)
        page.append(f"<h2>Not exercised</h2><ul>{items}</ul>")
    return "\n".join([*page, "</body></html>"]) + "\n"


HTML_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#1f2328}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:left}"
    ".verdict{font-weight:bold;font-size:1.2em}.ok{color:#1a7f37}.bad{color:#cf222e}.context{color:#57606a}"
    "pre{background:#f6f8fa;padding:1em;overflow:auto}.legend span{font-weight:bold;margin-right:1em}"
    ".diagram svg{max-width:100%;height:auto}"
)


def _phase_rows(report: Report) -> list[list[str]]:
    rows = []
    for phase in report.phases:
        counts = report.counts(phase)
        rows.append([phase, *(str(counts[o]) for o in Outcome)])
    return rows


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _html_legend() -> str:
    return "".join(f'<span style="color:{colour}">{html.escape(v)}</span>' for v, colour in diagram.COLOURS.items())


def _html_diagram(report: Report) -> str:
    """The coloured diagram as inline SVG; its Mermaid text when Graphviz cannot draw it here."""
    assert report.lifecycle is not None
    try:
        svg = diagram.svg(report.lifecycle, report.verdicts())
    except Exception as exc:  # Graphviz's dot missing or failing: the report is still written
        text = diagram.mermaid(report.lifecycle, report.verdicts())
        return f"<p>Graphviz could not draw the diagram ({html.escape(str(exc))}); its Mermaid text:</p><pre>{html.escape(text)}</pre>"
    return f'<div class="diagram">{svg[svg.index("<svg") :]}</div>'
