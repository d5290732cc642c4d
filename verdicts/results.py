"""Results as data: every check ends passed, failed (with findings) or not exercised (with why)."""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from verdicts.exchanges import Exchange

SETUP = "reachability"  # the results of reaching the deployment and logging in, before any phase


class Outcome(enum.StrEnum):
    """How a check ended."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_EXERCISED = "not exercised"


@dataclass(frozen=True)
class Finding:
    """One departure from the spec: what was sent, what came back, why it is wrong, how to reproduce it."""

    check: str
    operation: str
    message: str
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    curl: str = ""

    @classmethod
    def from_exchange(
        cls, check: str, operation: str, message: str, exchange: Exchange | None, before: tuple[Exchange, ...] = ()
    ) -> Finding:
        """A finding about the answer to one of the suite's own requests (after `before`, which set it up)."""
        if exchange is None:
            return cls(check, operation, message)
        request, response = exchange.request, exchange.response
        return cls(
            check=check,
            operation=operation,
            message=message,
            request={"method": request.method, "url": request.url, "headers": request.headers, "body": request.body},
            response={"status": response.status, "headers": response.headers, "body": response.body},
            curl=" && ".join(step.request.curl() for step in (*before, exchange)),
        )


@dataclass
class CheckResult:
    """One check on one subject (an operation, a state, a lifecycle cell)."""

    phase: str
    name: str
    subject: str
    outcome: Outcome = Outcome.PASSED
    findings: list[Finding] = field(default_factory=list)
    reason: str = ""
    runs: int = 0
    seconds: float | None = None  # the time spent on it (see Results); None when its results are not timed

    @property
    def title(self) -> str:
        """`name [subject]`, the check's display and test-case name."""
        return f"{self.name} [{self.subject}]" if self.subject else self.name


class Results:
    """Collects check results, merging repeated runs of the same check on the same subject.

    Timed (the suite's): each record takes the time since the one before it, or since `start`, so a check's
    `seconds` is the time the run spent until each of its results was known. The proxy's are not: the time between
    two exchanges of someone else's traffic is no check's.
    """

    def __init__(self, *, timed: bool = True) -> None:
        self._results: dict[tuple[str, str, str], CheckResult] = {}
        self.cells: dict[tuple[str, str], Outcome] = {}
        self.timed = timed
        self._since = time.monotonic()

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self._results.values())

    def start(self) -> None:
        """Time the next record from now (a phase starts): what came before is no check's time."""
        self._since = time.monotonic()

    def _get(self, phase: str, name: str, subject: str) -> CheckResult:
        key = (phase, name, subject)
        if key not in self._results:
            self._results[key] = CheckResult(phase, name, subject, Outcome.NOT_EXERCISED)
        return self._results[key]

    def _record(self, phase: str, name: str, subject: str) -> CheckResult:
        """The result to record a run of, charged the time since the last record when timed."""
        result = self._get(phase, name, subject)
        if self.timed:
            now = time.monotonic()
            result.seconds = (result.seconds or 0.0) + now - self._since
            self._since = now
        return result

    def passed(self, phase: str, name: str, subject: str) -> CheckResult:
        """Record a passing run."""
        result = self._record(phase, name, subject)
        result.runs += 1
        if result.outcome is Outcome.NOT_EXERCISED:
            result.outcome, result.reason = Outcome.PASSED, ""
        return result

    def failed(self, phase: str, name: str, subject: str, finding: Finding) -> CheckResult:
        """Record a failing run and its finding."""
        result = self._record(phase, name, subject)
        result.runs += 1
        result.outcome, result.reason = Outcome.FAILED, ""
        result.findings.append(finding)
        return result

    def check(
        self,
        phase: str,
        name: str,
        subject: str,
        problems: list[str],
        exchange: Exchange | None,
        before: tuple[Exchange, ...] = (),
    ) -> bool:
        """Record a run that passed when `problems` is empty; otherwise one finding naming them all."""
        if not problems:
            self.passed(phase, name, subject)
            return True
        finding = Finding.from_exchange(name, subject, "\n".join(problems), exchange, before)
        self.failed(phase, name, subject, finding)
        return False

    def not_exercised(self, phase: str, name: str, subject: str, reason: str) -> CheckResult:
        """Record that a check could not run, and why (kept only if it never ran)."""
        result = self._record(phase, name, subject)
        if result.outcome is Outcome.NOT_EXERCISED:
            result.reason = reason
        return result

    def cell(self, state: str, operation: str, outcome: Outcome) -> None:
        """Mark a cell of the coverage matrix; a failure sticks, a pass beats not exercised."""
        current = self.cells.get((state, operation))
        if current is Outcome.FAILED or (current is Outcome.PASSED and outcome is Outcome.NOT_EXERCISED):
            return
        self.cells[(state, operation)] = outcome

    def absorb(self, other: Results) -> None:
        """Take in what another process recorded (its share of a phase), as if each run had been recorded here."""
        for theirs in other:
            mine = self._get(theirs.phase, theirs.name, theirs.subject)
            mine.runs += theirs.runs
            mine.findings += theirs.findings
            if theirs.seconds is not None:
                mine.seconds = (mine.seconds or 0.0) + theirs.seconds
            if theirs.outcome is Outcome.FAILED or mine.outcome is Outcome.NOT_EXERCISED:
                mine.outcome, mine.reason = theirs.outcome, theirs.reason
        for (state, operation), outcome in other.cells.items():
            self.cell(state, operation, outcome)

    def of_phase(self, phase: str) -> list[CheckResult]:
        """The results of one phase, in the order they were first recorded."""
        return [result for result in self._results.values() if result.phase == phase]

    def scrub(self, redact: Callable[[str], str]) -> None:
        """Pass every text of every finding through `redact` (secrets a message may quote)."""
        for result in self._results.values():
            result.reason = redact(result.reason)
            result.findings = [_scrubbed(finding, redact) for finding in result.findings]

    def count(self, outcome: Outcome) -> int:
        """How many checks ended this way."""
        return sum(1 for result in self._results.values() if result.outcome is outcome)

    @property
    def failed_count(self) -> int:
        """How many checks failed."""
        return sum(1 for result in self._results.values() if result.outcome is Outcome.FAILED)


def _scrubbed(finding: Finding, redact: Callable[[str], str]) -> Finding:
    def clean(value: Any) -> Any:
        return None if value is None else json.loads(redact(json.dumps(value)))

    return replace(
        finding,
        message=redact(finding.message),
        curl=redact(finding.curl),
        request=clean(finding.request),
        response=clean(finding.response),
    )
