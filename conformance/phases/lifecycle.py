"""The lifecycle phase: every cell the spec's lifecycle states, acted on and read back, and the worker watched."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

from conformance.fixtures import Unavailable
from conformance.options import Options
from conformance.target import Progress, Target
from jobspec import Refusal, Spec, Transition, invariants
from jobspec.operations import find_operations
from verdicts import checks
from verdicts.coverage import WORKER
from verdicts.exchanges import Exchange
from verdicts.results import Outcome

PHASE = "lifecycle"
POLL = 0.1  # seconds between two reads of the list while watching the worker
GRACE = 0.5  # seconds to keep watching once the watched jobs are terminal: they must stay there
NOT_A_UUID = "not-a-uuid"  # the id parameter is a plain string: an id like this names no job either
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
Job = dict[str, Any]


def run(target: Target, progress: Progress) -> None:
    """Every cell of the lifecycle, deletion from every state, then the worker watch."""
    progress(f"{PHASE}: every cell of {target.spec.path.name}'s x-job-lifecycle, fixtures {target.fixtures.name}")
    LifecyclePhase(target).run()


def planned(spec: Spec, options: Options) -> Counter[str]:
    """About the requests this phase sends to the jobs list (what a rate limit may count): a read back per cell and
    per deletion, and the worker watch's reads over its budget."""
    lifecycle = spec.lifecycle
    cells = len(lifecycle.client_operations()) * len(lifecycle.states) + len(lifecycle.removal.states)
    return Counter({find_operations(spec)[1]: cells + 2 + round(options.timeout / POLL)})


def groups(spec: Spec) -> tuple[str, ...]:
    """The checks of this phase."""
    return (
        checks.TRANSITION_ANSWER,
        checks.TRANSITION_RESULT,
        checks.REFUSAL_ANSWER,
        checks.REFUSAL_UNCHANGED,
        checks.STATE_FIELDS,
        checks.TIMESTAMPS_ORDERED,
        checks.LIST_AGREES,
        checks.ITEM_NAMES_ITS_URL,
        checks.DELETION_ANSWER,
        checks.DELETION_FINAL,
        checks.UNKNOWN_JOB,
        checks.WORKER_FOLLOWS,
    )


class LifecyclePhase:
    """Runs the lifecycle checks against one target."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.lifecycle = target.spec.lifecycle
        self.failed = False
        self.steps: tuple[Exchange, ...] = ()  # the requests that set up what a cell reads back

    def run(self) -> None:
        """Refusals, then client transitions, deletion from every state, then the worker watch.

        Refusals come first: they leave their job as it was, so existing jobs serve several cells.
        """
        cells = [
            (state, operation, outcome)
            for operation in self.lifecycle.client_operations()
            for state in self.lifecycle.states
            if isinstance(outcome := self.lifecycle.outcome(operation, state), Transition | Refusal)
        ]
        for state, operation, outcome in sorted(cells, key=lambda cell: isinstance(cell[2], Transition)):
            self.cell(state, operation, outcome)
        for state in sorted(self.lifecycle.removal.states, key=list(self.lifecycle.states).index):
            self.deletion(state)
        self.unknown_jobs()
        WorkerWatch(self.target).run()

    # ---- one cell ------------------------------------------------------------------------
    def cell(self, state: str, operation: str, outcome: Transition | Refusal) -> None:
        """Obtain a job in `state`, call `operation` on it, read it back and judge."""
        names = _names(outcome)
        found = self.obtain(state, operation, names)
        if found is None:
            return
        job_id, before = found
        exchange = self.target.call(operation, job_id)
        self.failed, self.steps = False, (exchange,)
        subject = f"{operation} on {state}"
        spec_operation = self.target.spec.operation(operation)
        if isinstance(outcome, Transition):
            problems = checks.answer_problems(spec_operation, exchange, outcome.trigger.status)
            self.expect(checks.TRANSITION_ANSWER, subject, problems, exchange)
        else:
            problems = checks.answer_problems(spec_operation, exchange, outcome.status) or _refusal_body(
                exchange, outcome, state
            )
            self.expect(checks.REFUSAL_ANSWER, subject, problems, exchange)
        after = self.read_back(subject, job_id)
        if after is not None and isinstance(outcome, Transition):
            problems = invariants.change_problems(self.lifecycle, outcome, before, after[1])
            problems += invariants.immutable_problems(self.lifecycle, before, after[1])
            self.expect(checks.TRANSITION_RESULT, subject, problems, after[0])
        elif after is not None:
            problems = invariants.unchanged_problems(self.lifecycle, before, after[1])
            self.expect(checks.REFUSAL_UNCHANGED, subject, problems, after[0])
        self.target.results.cell(state, operation, Outcome.FAILED if self.failed else Outcome.PASSED)

    def obtain(self, state: str, operation: str, names: tuple[str, ...]) -> tuple[str, Job] | None:
        """A job in `state` from the fixtures, read once; None (cell not exercised) otherwise."""
        subject = f"{operation} on {state}"
        if self.target.options.read_only:
            reason = f"{self.target.options.flag('read_only')} changes no job"
        else:
            try:
                job_id = self.target.fixtures.obtain(state)
                exchange, job = self.target.read_job(job_id)
                if job is not None and job.get(self.lifecycle.status_field) == state:
                    return job_id, job
                shown = job.get(self.lifecycle.status_field) if job else f"HTTP {exchange.response.received}"
                reason = f"the fixture's job {job_id} reads back as {shown}, not {state}"
            except Unavailable as exc:
                reason = str(exc)
        for name in names:
            self.target.results.not_exercised(PHASE, name, subject, reason)
        self.target.results.cell(state, operation, Outcome.NOT_EXERCISED)
        return None

    def read_back(self, subject: str, job_id: str) -> tuple[Exchange, Job] | None:
        """The list, then the single GET: invariants on both, and they must agree."""
        list_exchange, listed, readable = self.target.listed_job(job_id)
        exchange, job = self.target.read_job(job_id)
        if job is None:
            problem = f"Received {exchange.response.received} / Documented: 200 with the job"
            self.expect(checks.TRANSITION_RESULT, subject, [problem], exchange)
            return None
        self.expect(checks.ITEM_NAMES_ITS_URL, subject, _url_problems(self.target, job_id, job), exchange)
        for seen, source in ((job, exchange), (listed, list_exchange)):
            if seen is not None:
                self.expect(checks.STATE_FIELDS, subject, invariants.state_field_problems(self.lifecycle, seen), source)
                problems = invariants.timestamp_order_problems(self.lifecycle, seen)
                self.expect(checks.TIMESTAMPS_ORDERED, subject, problems, source)
        if readable:
            problems = invariants.list_problems(self.lifecycle, listed, job)
            problems += invariants.duplicate_problems(self.lifecycle, list_exchange.response.data, self.target.id_field)
            self.expect(checks.LIST_AGREES, subject, problems, list_exchange)
        return exchange, job

    def expect(self, name: str, subject: str, problems: list[str], exchange: Exchange | None) -> None:
        """Record a check of this cell; its curl replays the cell's earlier requests first."""
        before = tuple(step for step in self.steps if step is not exchange)
        if not self.target.results.check(PHASE, name, subject, problems, exchange, before):
            self.failed = True

    # ---- deletion ------------------------------------------------------------------------
    def deletion(self, state: str) -> None:
        """Delete a job in `state`; afterwards every operation on it answers as the spec says."""
        removal = self.lifecycle.removal
        names = (checks.DELETION_ANSWER, checks.DELETION_FINAL)
        found = self.obtain(state, removal.operation, names)
        if found is None:
            return
        job_id, _ = found
        subject = f"{removal.operation} on {state}"
        exchange = self.target.call(removal.operation, job_id)
        self.failed, self.steps = False, (exchange,)
        spec_operation = self.target.spec.operation(removal.operation)
        self.expect(
            checks.DELETION_ANSWER, subject, checks.answer_problems(spec_operation, exchange, removal.status), exchange
        )
        for operation in removal.afterwards_operations:
            later = self.target.call(operation, job_id)
            problems = checks.answer_problems(self.target.spec.operation(operation), later, removal.afterwards_status)
            self.expect(checks.DELETION_FINAL, subject, [f"{p} ({operation} after deletion)" for p in problems], later)
        list_exchange, listed, _ = self.target.listed_job(job_id)
        problems = [] if listed is None else [f"Received: {removal.listed_by} still lists the job / Documented: absent"]
        self.expect(checks.DELETION_FINAL, subject, problems, list_exchange)
        self.target.results.cell(state, removal.operation, Outcome.FAILED if self.failed else Outcome.PASSED)

    # ---- unknown jobs ----------------------------------------------------------------------
    def unknown_jobs(self) -> None:
        """An id no job has, and one that is not even a UUID: every job operation answers as for a deleted job."""
        removal = self.lifecycle.removal
        for operation in removal.afterwards_operations:
            spec_operation = self.target.spec.operation(operation)
            if self.target.options.read_only and spec_operation.method not in SAFE_METHODS:
                reason = f"{self.target.options.flag('read_only')} sends no {spec_operation.method}"
                self.target.results.not_exercised(PHASE, checks.UNKNOWN_JOB, operation, reason)
                continue
            for job_id, what in ((str(uuid.uuid4()), "an id no job has"), (NOT_A_UUID, "an id that is not a UUID")):
                exchange = self.target.call(operation, job_id)
                found = checks.answer_problems(spec_operation, exchange, removal.afterwards_status)
                problems = [f"{p} ({what})" for p in found]
                self.target.results.check(PHASE, checks.UNKNOWN_JOB, operation, problems, exchange)


class WorkerWatch:
    """Watches jobs for a bounded time; every observed sequence must follow the lifecycle."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.lifecycle = target.spec.lifecycle
        self.seen: dict[str, Job] = {}
        self.moves: set[tuple[str, str]] = set()
        self.untouched: dict[str, str | None] = {}  # jobs made to watch (no client acts on them) -> the end asked
        self.last: Exchange | None = None  # the latest read of the list

    def run(self) -> None:
        """Watch until the watched jobs settle or the budget (--timeout) is spent."""
        watched = {} if self.target.options.read_only else self.target.fixtures.moving(self.lifecycle)
        self.untouched = watched
        deadline = time.monotonic() + self.target.options.timeout
        while time.monotonic() < deadline:
            self.observe(self.target.call(self.target.list_operation))
            if watched and all(self._settled(job_id) for job_id in watched):
                deadline = min(deadline, time.monotonic() + GRACE)
            time.sleep(POLL)
        self.report(bool(watched))

    def _settled(self, job_id: str) -> bool:
        job = self.seen.get(job_id)
        return job is not None and job.get(self.lifecycle.status_field) in self.lifecycle.terminal

    def observe(self, exchange: Exchange) -> None:
        """Judge every job of one read of the list against its previous observation."""
        self.last = exchange
        data = exchange.response.data
        for job in data if isinstance(data, list) else []:
            job_id = job.get(self.target.id_field) if isinstance(job, dict) else None
            if not isinstance(job_id, str):
                continue
            before = self.seen.get(job_id)
            self.seen[job_id] = job
            if before is None:
                self._first_seen(job_id, job)
                continue
            if before == job:
                continue
            was, now = before.get(self.lifecycle.status_field), job.get(self.lifecycle.status_field)
            problems = self.problems(job_id, before, job)
            if not self.target.results.check(PHASE, checks.WORKER_FOLLOWS, "observed sequences", problems, exchange):
                self.target.results.cell(str(was), WORKER, Outcome.FAILED)
            if was != now and isinstance(was, str) and isinstance(now, str):
                self.moves.add((was, now))

    def _first_seen(self, job_id: str, job: Job) -> None:
        """A job made to watch is made in the initial state: first read in a state the worker alone takes a job to
        from there (a slow fixture, a quick worker, a loaded machine), it was moved by the worker, from the initial
        state, between the making and the read. Any other state proves nothing (the fixture may not be what it says)."""
        initial, now = self.lifecycle.initial, job.get(self.lifecycle.status_field)
        if job_id in self.untouched and isinstance(now, str) and now != initial:
            if now in self.lifecycle.worker_reachable(initial):
                self.moves.add((initial, now))

    def problems(self, job_id: str, before: Job, after: Job) -> list[str]:
        """What is wrong with a job's change between two reads: invariants, edges, and a step's changes."""
        lifecycle = self.lifecycle
        was, now = before.get(lifecycle.status_field), after.get(lifecycle.status_field)
        problems = invariants.invariant_problems(lifecycle, after) + invariants.immutable_problems(
            lifecycle, before, after
        )
        if was == now:
            return problems
        if job_id in self.untouched:
            if not (isinstance(was, str) and now in lifecycle.worker_reachable(was)):
                problems.append(
                    f"Received job {job_id} seen {was} then {now}, with no client acting on it "
                    "/ Documented: only the worker's transitions"
                )
        elif not (isinstance(was, str) and isinstance(now, str) and lifecycle.can_follow(was, now)):
            problems.append(f"Received job {job_id} seen {was} then {now} / Documented: only the lifecycle's edges")
        steps = [t for t in lifecycle.transitions if (t.source, t.target) == (was, now) and t.trigger.is_worker]
        if len(steps) == 1:  # one worker step between the two reads: its changes can be checked
            problems += invariants.change_problems(lifecycle, steps[0], before, after)
        return problems

    def report(self, made_jobs: bool) -> None:
        """A result and a matrix cell for every worker transition: seen, or why not; then the made jobs' ends."""
        for transition in self.lifecycle.transitions:
            if not transition.trigger.is_worker:
                continue
            subject = f"{transition.name}: {transition.source} -> {transition.target}"
            seen = any(
                was == transition.source and now in self.lifecycle.worker_reachable(transition.target)
                for was, now in self.moves
            )
            if seen:
                self.target.results.passed(PHASE, checks.WORKER_FOLLOWS, subject)
                self.target.results.cell(transition.source, WORKER, Outcome.PASSED)
                continue
            options = self.target.options
            unseen = f"no job went from {transition.source} to {transition.target} within {options.timeout:g} s"
            hint = (
                ""
                if made_jobs
                else f"; pass {options.flag('fixtures')} mock or command:CMD so the suite can make jobs to watch"
            )
            if options.read_only:
                hint = f"; {options.flag('read_only')} makes no jobs to watch"
            self.target.results.not_exercised(PHASE, checks.WORKER_FOLLOWS, subject, unseen + hint)
            self.target.results.cell(transition.source, WORKER, Outcome.NOT_EXERCISED)
        if made_jobs and self.target.fixtures.timed:
            self.ends()

    def ends(self) -> None:
        """Jobs the fixtures made to run within the budget must end as asked (a stuck worker fails here)."""
        terminal, problems = self.lifecycle.terminal, []
        for job_id, end in self.untouched.items():
            found = self.seen.get(job_id, {}).get(self.lifecycle.status_field)
            if found != end and not (end is None and found in terminal):
                wanted = end or f"one of {', '.join(sorted(terminal))}"
                problems.append(
                    f"Received job {job_id} {found or 'never listed'} after {self.target.options.timeout:g} s "
                    f"/ Documented: the worker ends it {wanted} (the fixtures made it to run within the budget)"
                )
                if isinstance(found, str) and found in self.lifecycle.worker:
                    self.target.results.cell(found, WORKER, Outcome.FAILED)
        self.target.results.check(PHASE, checks.WORKER_FOLLOWS, "jobs made to run soon", problems, self.last)


def _names(outcome: Transition | Refusal) -> tuple[str, ...]:
    if isinstance(outcome, Transition):
        return (checks.TRANSITION_ANSWER, checks.TRANSITION_RESULT)
    return (checks.REFUSAL_ANSWER, checks.REFUSAL_UNCHANGED)


def _refusal_body(exchange: Exchange, refusal: Refusal, state: str) -> list[str]:
    """A refusal's body has the lifecycle's shape (and error type), and its message names the job's state."""
    return refusal.body_problems(exchange.response.data, state)


def _url_problems(target: Target, job_id: str, job: Job) -> list[str]:
    """`@id` is the address the client used for the job, path prefix included."""
    wanted = target.client.base_url + target.path(target.item_operation, job_id)
    found = job.get(checks.ID_URL)
    if found == wanted:
        return []
    return [f"Received `{checks.ID_URL}`: {invariants.show(found)} / Documented: {wanted}, the address the client used"]
