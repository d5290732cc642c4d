"""What the traffic has shown of each job, judged by the lifecycle at every sighting and every answer.

The proxy keeps, per job, the states it may be in now: after a sighting, the sighted state and
wherever the worker alone can take it (with `--shared`, wherever any chain of transitions can);
after an answer of the lifecycle (a 204 abort, a 409 refusal), the states that answer comes from
or leads to. A sighting outside that set is a move no transition allows; an answer no state of
that set gives is one the lifecycle does not give there. Spans overlap when requests run at the
same time: a sighting may then show the job as it was before a change, or after one answered
later (`ahead`), and neither is held against it. Every rule is read through `jobspec`.

It keeps the `max_jobs` jobs seen most recently: past that, the one unseen longest is forgotten
(and counted), and its next sighting is judged afresh, as a first one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jobspec import Lifecycle, LifecycleError, Refusal, Removal, Transition
from jobspec.invariants import backwards_problems, change_problems, immutable_problems
from jobsproxy.config import MAX_JOBS
from verdicts import checks
from verdicts.coverage import WORKER

JOB_FOLLOWS = "job_follows_lifecycle"
NEVER_BACK = "timestamps_never_go_back"
OBSERVED = "observed jobs"
HISTORY = 16  # changes of belief kept per job, for sightings that overlap them
Job = dict[str, Any]
Outcome = Transition | Refusal | Removal


@dataclass(frozen=True)
class Span:
    """When an exchange started and when its answer arrived (the proxy's monotonic clock)."""

    sent: float
    answered: float


@dataclass(frozen=True)
class Verdict:
    """One check of one sighting or answer: no problems is a pass; `cell` is the lifecycle cell it exercised."""

    check: str
    subject: str
    problems: list[str]
    cell: tuple[str, str] | None = None
    job: str | None = None
    unexercised: str = ""  # why the check could not run on this exchange (then `problems` is empty)


@dataclass
class Fired:
    """A client transition answered since the last sighting: the sighting before it, if it showed the source."""

    transition: Transition
    before: Job | None
    call: str


@dataclass
class Sighting:
    """What is known of one job."""

    possible: frozenset[str]
    last: Job | None = None
    last_state: str | None = None
    last_answered: float = 0.0
    fired: Fired | None = None
    history: deque[tuple[float, frozenset[str]]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    deleted_at: float | None = None
    deleted_by: str = ""

    def believe(self, possible: frozenset[str], when: float) -> None:
        """From `when` on, the job is in one of `possible`; what it was before stays for overlapping sightings."""
        self.history.append((when, self.possible))
        self.possible = possible

    def earlier(self, sent: float) -> frozenset[str]:
        """States the job may still have been in for an exchange started at `sent`."""
        return frozenset().union(*(before for when, before in self.history if when > sent))


class JobTracker:
    """Every job the traffic has shown, and the lifecycle they are judged by."""

    def __init__(self, lifecycle: Lifecycle, *, shared: bool = False, max_jobs: int = MAX_JOBS) -> None:
        self.lifecycle = lifecycle
        self.shared = shared
        self.max_jobs = max_jobs
        self.jobs: dict[str, Sighting] = {}  # the least recently seen first
        self.forgotten = 0  # jobs let go past `max_jobs`
        self.answers = {op: _answers(lifecycle, op) for op in lifecycle.job_operations()}

    def _sighting(self, job_id: str) -> Sighting | None:
        """What is known of a job, now the most recently seen one."""
        seen = self.jobs.pop(job_id, None)
        if seen is not None:
            self.jobs[job_id] = seen
        return seen

    def _remember(self, job_id: str, seen: Sighting) -> Sighting:
        """Keep a job first seen now; forget the one unseen longest past the bound."""
        self.jobs[job_id] = seen
        while len(self.jobs) > self.max_jobs:
            del self.jobs[next(iter(self.jobs))]
            self.forgotten += 1
        return seen

    def closure(self, states: Iterable[str]) -> frozenset[str]:
        """Where jobs in `states` may be by the next sighting without a client acting through the proxy."""
        moves = self.lifecycle.reachable if self.shared else self.lifecycle.worker_reachable
        return frozenset().union(*(moves(state) for state in states))

    def forget(self, job_id: str | None = None) -> None:
        """Drop what is known of one job, or of all (a change outside the contract may have moved them)."""
        if job_id is None:
            self.jobs.clear()
        else:
            self.jobs.pop(job_id, None)

    # ---- sightings -------------------------------------------------------------------------
    def observe(self, job_id: str, job: Job, span: Span, ahead: Iterable[tuple[str, int]] = ()) -> list[Verdict]:
        """A sighting of a job in an answer; `ahead`: (operation, status) on it that overlapped and answered later."""
        state = job.get(self.lifecycle.status_field)
        if not isinstance(state, str) or state not in self.lifecycle.states:
            return []  # the invariant checks name a status that is no state
        seen = self._sighting(job_id)
        if seen is None:
            self._remember(job_id, Sighting(self.closure([state]), job, state, span.answered))
            return []
        if seen.deleted_at is not None:
            return [] if span.sent < seen.deleted_at else [self._resurrected(job_id, seen, state)]
        current = state in seen.possible
        verdicts = self._compare(seen, job, span)
        if not current and state not in seen.earlier(span.sent) | self._after(seen, span, ahead):
            verdicts.append(self._wrong_move(job_id, seen, state))
        elif not current:
            return verdicts  # as it was before a change, or after one answered later: the change decides
        else:
            verdicts += self._moved(seen, job, state)
        seen.believe(self.closure([state]), span.answered)
        seen.last, seen.last_state, seen.last_answered, seen.fired = job, state, span.answered, None
        return verdicts

    def _compare(self, seen: Sighting, job: Job, span: Span) -> list[Verdict]:
        if seen.last is None:
            return []
        verdicts = [Verdict(checks.IMMUTABLE_FIELDS, OBSERVED, immutable_problems(self.lifecycle, seen.last, job))]
        if span.sent >= seen.last_answered:  # the two sightings did not overlap: their order is known
            verdicts.append(Verdict(NEVER_BACK, OBSERVED, backwards_problems(self.lifecycle, seen.last, job)))
        return verdicts

    def _moved(self, seen: Sighting, job: Job, state: str) -> list[Verdict]:
        """A pass for the transition answered since the last sighting, or for the worker's move."""
        if seen.fired is not None:
            fired = seen.fired.transition
            problems = (
                [] if seen.fired.before is None else change_problems(self.lifecycle, fired, seen.fired.before, job)
            )
            cell = (fired.source, str(fired.trigger.operation))
            return [Verdict(checks.TRANSITION_RESULT, f"{cell[1]} on {cell[0]}", problems, cell)]
        was = seen.last_state
        if was is not None and was != state and state in self.lifecycle.worker_reachable(was):
            return [Verdict(JOB_FOLLOWS, "observed sequences", [], (was, WORKER))]
        return []

    def _after(self, seen: Sighting, span: Span, ahead: Iterable[tuple[str, int]]) -> frozenset[str]:
        """Where answers of the lifecycle that overlapped this sighting, answered later, may have taken the job."""
        states = seen.possible | seen.earlier(span.sent)
        targets: set[str] = set()
        for operation, status in ahead:
            for state, outcome in self.answers.get(operation, {}).get(status, {}).items():
                if state in states and isinstance(outcome, Transition):
                    targets |= self.closure([outcome.target])
        return frozenset(targets)

    def _wrong_move(self, job_id: str, seen: Sighting, state: str) -> Verdict:
        shown = ", ".join(sorted(seen.possible, key=list(self.lifecycle.states).index))
        if seen.fired is not None:
            fired = seen.fired.transition
            problem = f"Received job {job_id} {state} after {seen.fired.call} / Documented: {fired.target}"
            if seen.possible != {fired.target}:
                problem += f", or where the worker takes it from there ({shown})"
            cell = (fired.source, str(fired.trigger.operation))
            return Verdict(checks.TRANSITION_RESULT, f"{cell[1]} on {cell[0]}", [problem], cell)
        how = "any chain of the lifecycle's transitions" if self.shared else "the worker's transitions alone"
        problem = f"Received job {job_id} {state}, last seen {seen.last_state} / Documented: {how} lead only to {shown}"
        return Verdict(JOB_FOLLOWS, "observed sequences", [problem])

    def _resurrected(self, job_id: str, seen: Sighting, state: str) -> Verdict:
        removal = self.lifecycle.removal
        problem = (
            f"Received job {job_id} ({state}) again after {seen.deleted_by} / Documented: gone for good "
            f"({removal.afterwards_status} on {', '.join(removal.afterwards_operations)}; absent from {removal.listed_by})"
        )
        return Verdict(checks.DELETION_FINAL, removal.operation, [problem])

    # ---- answers of the lifecycle ------------------------------------------------------------
    def act(self, job_id: str, operation: str, status: int, span: Span) -> list[Verdict]:
        """An operation of the lifecycle on a job, answered `status`."""
        by_state = self.answers.get(operation, {}).get(status)
        if by_state is None:
            return []  # 401, 403, 404, a server error...: no word on the job's state
        seen = self._sighting(job_id)
        if seen is not None and seen.deleted_at is not None:
            return [] if span.sent < seen.deleted_at else [self._acted_after_deletion(job_id, operation, status, seen)]
        candidates = (seen.possible | seen.earlier(span.sent)) if seen else frozenset(self.lifecycle.states)
        matching = frozenset(state for state in candidates if state in by_state)
        verdicts = [self._judge_answer(job_id, operation, status, seen, candidates, matching)]
        self._apply(job_id, operation, status, span, matching or frozenset(by_state))
        return verdicts

    def _judge_answer(
        self,
        job_id: str,
        operation: str,
        status: int,
        seen: Sighting | None,
        candidates: frozenset[str],
        matching: frozenset[str],
    ) -> Verdict:
        """A pass, or what the lifecycle answers instead; the cell is the state the job was last seen in."""
        last = seen.last_state if seen else None
        state = last if last in (matching or candidates) else (next(iter(matching)) if len(matching) == 1 else None)
        outcome = self.lifecycle.outcome(operation, state) if state else None
        check = checks.REFUSAL_ANSWER if isinstance(outcome, Refusal) else checks.TRANSITION_ANSWER
        subject, cell = (f"{operation} on {state}", (state, operation)) if state else (operation, None)
        if matching:
            return Verdict(check, subject, [], cell)
        ordered = [name for name in self.lifecycle.states if name in candidates]
        expected = "; ".join(f"{_status(self.lifecycle.outcome(operation, name))} in {name}" for name in ordered)
        problem = f"Received {status} for {operation} on job {job_id}, last seen {last} / Documented: {expected}"
        return Verdict(check, subject, [problem], cell)

    def _apply(self, job_id: str, operation: str, status: int, span: Span, states: frozenset[str]) -> None:
        """Believe what the answer says happened (also after a wrong answer: the server says it did it)."""
        seen = self._sighting(job_id) or self._remember(job_id, Sighting(frozenset(self.lifecycle.states)))
        outcomes = [self.answers[operation][status][state] for state in sorted(states)]
        call = f"{operation} answered {status}"
        if any(isinstance(outcome, Removal) for outcome in outcomes):
            seen.deleted_at, seen.deleted_by = span.answered, call
            return
        transitions = [outcome for outcome in outcomes if isinstance(outcome, Transition)]
        if not transitions:
            seen.believe(self.closure(states), span.answered)  # refused: it was in one of these, and may move on
            return
        if len(transitions) == 1 and seen.fired is None:
            before = seen.last if seen.last_state == transitions[0].source and seen.last_answered <= span.sent else None
            seen.fired = Fired(transitions[0], before, f"{call} ({transitions[0].source} -> {transitions[0].target})")
        else:
            seen.fired = None
        seen.believe(self.closure(t.target for t in transitions), span.answered)

    def _acted_after_deletion(self, job_id: str, operation: str, status: int, seen: Sighting) -> Verdict:
        removal = self.lifecycle.removal
        problem = f"Received {status} for {operation} on job {job_id} after {seen.deleted_by} / Documented: {removal.afterwards_status}"
        return Verdict(checks.DELETION_FINAL, removal.operation, [problem])


def _status(outcome: Outcome) -> int:
    return outcome.status  # a client transition's, a refusal's or the removal's answer


def _answers(lifecycle: Lifecycle, operation: str) -> dict[int, dict[str, Outcome]]:
    """Per status the operation answers by the lifecycle, the states it answers it in, with the outcome."""
    answers: dict[int, dict[str, Outcome]] = {}
    for state in lifecycle.states:
        try:
            outcome = lifecycle.outcome(operation, state)
        except LifecycleError:
            continue
        answers.setdefault(_status(outcome), {})[state] = outcome
    return answers
