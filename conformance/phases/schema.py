"""The schema phase: schemathesis over every operation, through its documented Python API.

The work is a list of tasks (the stateful phase, and the stateless phases of each path's
operations), run in this process or shared by helper processes (`conformance.pool`); each task is
one schemathesis run of `conformance.phases.schemathesis_run`, whose every check's result per
operation, with the request, the answer and a curl line, becomes this suite's results.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from conformance import pool
from conformance.client import make_client
from conformance.fixtures import Unavailable, make_fixtures
from conformance.options import AUTO_PROCESSES, Options
from conformance.phases.schemathesis_run import PHASE as PHASE
from conformance.phases.schemathesis_run import (
    STATEFUL,
    TESTING_PHASES,
    label,
    run_task,
    session_candidates,
    session_operation_ids,
)
from conformance.target import Progress, Target
from conformance.transport import RunStopped
from jobspec import Spec
from jobspec.operations import find_operations
from jobspec.operations import session_operations as spec_session_operations
from verdicts.results import Results

# What a helper needs, imported once by the server helpers are made from (this module, by its name, for `_helper`;
# the rest is what schemathesis and pytest import only when they first run).
HELPER_IMPORTS = (__name__, "schemathesis.pytest", "hypothesis.stateful", "pytest")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
COVERAGE = 60  # about the cases schemathesis's examples and coverage phases add to an operation's fuzzing
STOCK_PER_STATE = 2  # jobs per state for schemathesis: one may be deleted early and the state still be there


def run(target: Target, progress: Progress) -> None:
    """Run every schemathesis phase the options allow and record each check per operation.

    With more than one process (`--processes`), the work is a queue of tasks (the stateful phase, and
    the stateless phases of each path's operations) that helper processes take in turn, each on its own
    core (schemathesis and hypothesis are CPU-bound), a fresh helper for each task. Their results join
    this run's in the queue's order, so a report does not depend on which finished first. `--workers`
    changes nothing: schemathesis's pytest integration sends one case at a time.
    """
    options = target.options
    operations = runnable(target)
    tasks = plan(target, operations)
    helpers = min(_processes(options), len(tasks))
    shown = f", {helpers} processes" if helpers > 1 else ""
    progress(f"{PHASE}: schemathesis, {options.max_examples} examples per operation, seed {options.seed}{shown}")
    _stock(target)
    _not_exercised(target)
    if helpers <= 1:
        _run_task(target, Task(tuple(operations), _phases(options)), progress)
        return
    handovers = [_handover(target, task, number) for number, task in enumerate(tasks)]

    def take(handed: Handed) -> None:
        target.results.absorb(handed.results)
        target.client.secrets.update(handed.secrets)
        for line in handed.progress:
            progress(line)
        if handed.stopped:  # the helper's share of the run ended it: the others are ended too
            raise RunStopped(handed.stopped)

    try:
        pool.run_in_order(_helper, handovers, helpers, HELPER_IMPORTS, take)
    except BrokenProcessPool as exc:
        raise RuntimeError(
            f"a helper process of the {PHASE} phase died, so its checks have no verdict; "
            f"{options.flag('processes')} 1 runs the phase in this process"
        ) from exc


@dataclass(frozen=True)
class Task:
    """One schemathesis run: some phases over some operations (operationIds)."""

    operations: tuple[str, ...]
    phases: tuple[str, ...]
    label: str = ""  # how progress names it, in one line when it ends; "" to report it phase by phase


def plan(target: Target, operations: list[str]) -> list[Task]:
    """The tasks helper processes take: the stateful phase first (it takes longest, and follows links among all
    the operations), then the stateless phases of each path's operations.

    One task per path, not per operation: schemathesis probes each path once per run with the
    methods it does not document, and the same defect must not count twice.
    """
    phases = _phases(target.options)
    stateless = tuple(phase for phase in phases if phase != STATEFUL)
    tasks = [Task(tuple(operations), (STATEFUL,))] if STATEFUL in phases and operations else []
    paths: dict[str, list[str]] = {}
    for operation in operations:
        paths.setdefault(target.spec.operation(operation).path, []).append(operation)
    for path, on_path in paths.items():
        methods = "/".join(target.spec.operation(operation).method for operation in on_path)
        tasks.append(Task(tuple(on_path), stateless, f"{methods} {path}"))
    return tasks


def runnable(target: Target) -> list[str]:
    """The operations schemathesis may call: under --read-only the safe ones and login; with --token, no session
    operation."""
    options = target.options
    operations = list(target.spec.operations.values())
    if options.read_only:
        operations = [
            op for op in operations if op.method.upper() in SAFE_METHODS or op.operation_id == target.login_operation
        ]
    if options.token is not None:
        sessions = session_operation_ids(target)
        operations = [op for op in operations if op.operation_id not in sessions]
    return [op.operation_id for op in operations]


def _phases(options: Options) -> tuple[str, ...]:
    """schemathesis's phases the options allow: under --read-only, no stateful phase."""
    return tuple(TESTING_PHASES[:3] if options.read_only else TESTING_PHASES)


def _processes(options: Options) -> int:
    if options.processes is not None:
        return options.processes
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(AUTO_PROCESSES, cores))


def _not_exercised(target: Target) -> None:
    """The session operations a given token keeps schemathesis off, each reported once."""
    sessions = session_operation_ids(target)
    if target.options.token is None or not sessions:
        return
    reason = "--token given: the suite cannot log in for a throwaway session to end"
    for operation in sorted(sessions):
        target.results.not_exercised(PHASE, "all checks", label(target.spec.operation(operation)), reason)


def _run_task(target: Target, task: Task, progress: Progress, first: int = 0) -> None:
    """One schemathesis run, its results recorded in `target.results`; progress phase by phase, or in one line."""
    if not task.operations:
        return
    statuses = run_task(target, task.operations, task.phases, first)
    if task.label:
        progress(f"schemathesis {task.label}: {', '.join(f'{phase} {status}' for phase, status in statuses.items())}")
    else:
        for phase, status in statuses.items():
            progress(f"schemathesis {phase}: {status}")


@dataclass(frozen=True)
class Handover:
    """What a helper process needs to run a task: the options, and what this run has learned by now."""

    options: Options
    spec: Spec  # the run's, as loaded: every process judges by the same document
    task: Task
    token: str | None
    secrets: dict[str, str]
    owned: frozenset[str]
    operations: tuple[str, str, str, str]  # login, list, item, and the jobs' id field (`find_operations`)
    number: int  # the task's place in the queue: where its turn through the owned jobs starts


@dataclass(frozen=True)
class Handed:
    """What a helper process hands back: its results, its progress lines, and the secrets it met."""

    results: Results
    progress: list[str]
    secrets: dict[str, str]
    stopped: str = ""  # why the run stopped in the helper (RunStopped), with its results until then


def _handover(target: Target, task: Task, number: int) -> Handover:
    operations = (target.login_operation, target.list_operation, target.item_operation, target.id_field)
    owned = frozenset(target.fixtures.owned)
    client = target.client
    return Handover(target.options, target.spec, task, client.token, dict(client.secrets), owned, operations, number)


def _helper(handover: Handover) -> Handed:
    """A task run in a helper process, against the same deployment with the run's token and jobs."""
    options, spec = handover.options, handover.spec
    client = make_client(options)
    client.token = handover.token
    client.secrets.update(handover.secrets)
    login, listing, item, id_field = handover.operations
    fixtures = make_fixtures(options, client, spec.lifecycle, spec.operation(listing).path, id_field)
    fixtures.owned.update(handover.owned)
    target = Target(options, spec, client, fixtures, Results(), login, listing, item, id_field)
    lines: list[str] = []
    try:
        _run_task(target, handover.task, lines.append, first=handover.number)
    except RunStopped as exc:
        return Handed(target.results, lines, client.secrets, str(exc))
    return Handed(target.results, lines, client.secrets)


def prepare(options: Options) -> None:
    """Start the server helper processes are made from, when the options will have some: it imports schemathesis
    while the phases before this one run."""
    if _processes(options) > 1:
        pool.warm(HELPER_IMPORTS)


def planned(spec: Spec, options: Options) -> Counter[str]:
    """About the requests schemathesis sends to each operation: its examples, coverage and fuzzing cases (COVERAGE
    stands for what the coverage phase adds), and a throwaway login for each case of a session operation."""
    login, _, _, _ = find_operations(spec)
    _, renew, _ = spec_session_operations(spec)
    sessions = {op.operation_id for op in session_candidates(spec, login)}
    sent: Counter[str] = Counter()
    for operation in spec.operations:
        cases = options.max_examples + COVERAGE
        sent[operation] += cases
        if operation in sessions:  # a throwaway login for each case that may end its session (see _bearer)
            sent[login] += 1 if renew is not None and operation == renew.operation_id else cases
    return sent


def groups(spec: Spec) -> tuple[str, ...]:
    """The operations schemathesis checks, as it labels them."""
    return tuple(label(op) for op in spec.operations.values())


def _stock(target: Target) -> None:
    """Jobs of every state for schemathesis to act on, when the fixtures can make them."""
    if target.options.read_only or target.fixtures.name == "none":
        return
    for state in [*target.spec.lifecycle.states] * STOCK_PER_STATE:
        try:
            target.fixtures.obtain(state)
        except Unavailable:
            continue
