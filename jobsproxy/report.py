"""The proxy's report: the suite's report shapes (terminal, JUnit, JSON, Markdown) over what the traffic showed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobsproxy.inspector import ANSWERS, LIFECYCLE, Inspector
from jobsproxy.journal import NOTE, VIOLATION, Journal
from verdicts import checks
from verdicts.coverage import columns, expected_cells
from verdicts.report import Report, to_json, to_junit, to_markdown
from verdicts.results import Outcome

NOTES_SHOWN = 50  # in the Markdown report; the JSON report has them all


@dataclass
class ProxyReport(Report):
    """What the checks found in the traffic, and what the traffic covered."""

    exchanges: int = 0
    outside: int = 0
    unanswered: int = 0  # exchanges without a whole answer the proxy could pass on
    violations: int = 0
    forgotten: dict[str, int] = field(default_factory=dict)  # what was let go to bound memory: jobs, findings, entries
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    journal: list[dict[str, Any]] = field(default_factory=list)
    tool = "jobs-proxy"

    @property
    def title(self) -> str:
        """What the report is about."""
        return f"jobs-proxy: traffic to {self.base_url}"

    @property
    def exit_code(self) -> int:
        """1 when a violation was seen (what `--fail-on-violation` exits with), else 0."""
        return 1 if self.violations else 0

    def verdict(self) -> str:
        """The closing line: violations or none, and what that rests on."""
        passed, failed = self.results.count(Outcome.PASSED), self.results.count(Outcome.FAILED)
        missing = self.results.count(Outcome.NOT_EXERCISED)
        if self.violations:
            return (
                f"VIOLATIONS: {self.violations} in {self.exchanges} exchanges "
                f"({failed} checks failed, {passed} passed; {missing} not exercised)"
            )
        return f"NO VIOLATIONS in {self.exchanges} exchanges: {passed} checks passed; {missing} not exercised"

    def context(self) -> str:
        """The time, the spec and the traffic the verdict rests on, and what was let go to bound memory."""
        text = (
            f"{self.elapsed:.1f} s; spec {self.spec}; {self.exchanges - self.outside} exchanges of the spec's operations, "
            f"{self.outside} outside it"
        )
        if self.unanswered:
            text += f"; {self.unanswered} without a whole answer"
        let_go = ", ".join(f"{count} {what}" for what, count in self.forgotten.items() if count)
        return text + (f"; forgotten to bound memory: {let_go}" if let_go else "")


def build(inspector: Inspector, journal: Journal, upstream: str, elapsed: float) -> ProxyReport:
    """The report as things stand; call it holding `inspector.lock` (or once the checks have stopped)."""
    spec, lifecycle = inspector.spec, inspector.lifecycle
    called = {operation for operation, _ in inspector.calls} | inspector.tried
    for operation in spec.operations:
        if operation not in called:
            why = "no request for it passed through the proxy"
            inspector.results.not_exercised(ANSWERS, checks.DOCUMENTED_ANSWER, operation, why)
    calls: dict[str, dict[str, int]] = {}
    for (operation, status), count in sorted(inspector.calls.items()):
        calls.setdefault(operation, {})[str(status)] = count
    return ProxyReport(
        base_url=upstream,
        spec=str(spec.path),
        fixtures="traffic",
        results=inspector.results,
        states=tuple(lifecycle.states),
        columns=columns(lifecycle),
        phases=(ANSWERS, LIFECYCLE),
        cells=expected_cells(spec),
        lifecycle=lifecycle,
        elapsed=elapsed,
        exchanges=inspector.exchanges,
        outside=inspector.outside,
        unanswered=inspector.unanswered,
        violations=journal.count(VIOLATION),
        forgotten={
            "jobs": inspector.tracker.forgotten,
            "findings": inspector.findings_forgotten,
            "journal entries": journal.forgotten(),
        },
        calls=calls,
        journal=journal.since(0),
    )


def report_json(report: ProxyReport) -> str:
    """The suite's JSON report, with the traffic, the violations and the notes."""
    data = json.loads(to_json(report))
    for name in ("fixtures", "seed", "require", "exit_code"):  # the suite's run settings, not the proxy's
        data.pop(name, None)
    data["upstream"] = data.pop("base_url")
    data["exchanges"] = report.exchanges
    data["outside_the_spec"] = report.outside
    data["without_a_whole_answer"] = report.unanswered
    data["forgotten"] = report.forgotten
    data["calls"] = report.calls
    data["violations"] = [entry for entry in report.journal if entry["kind"] == VIOLATION]
    data["notes"] = [entry for entry in report.journal if entry["kind"] == NOTE]
    return json.dumps(data, indent=2)


def report_markdown(report: ProxyReport) -> str:
    """The suite's Markdown report, with the operations the traffic called and the notes."""
    lines = [
        to_markdown(report).rstrip("\n"),
        "",
        "## Traffic",
        "",
        "| operation | status | answers |",
        "|---|---:|---:|",
    ]
    for operation, statuses in report.calls.items():
        lines += [f"| {operation} | {status} | {count} |" for status, count in statuses.items()]
    notes = [entry for entry in report.journal if entry["kind"] == NOTE]
    if notes:
        lines += ["", f"## Notes ({len(notes)})", ""]
        lines += [f"- {entry['request']}: {entry['message']}" for entry in notes[:NOTES_SHOWN]]
    return "\n".join(lines) + "\n"


def write(report: ProxyReport, *, json_file: Path | None, junit: Path | None, markdown: Path | None) -> None:
    """The report files asked for."""
    for path, make in ((json_file, report_json), (junit, to_junit), (markdown, report_markdown)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(make(report), encoding="utf-8")
