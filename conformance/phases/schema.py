"""The schema phase: schemathesis over every operation, run in-process through its engine.

The engine's events carry every check's result per case, with the request, the response and a
curl line, so they become this suite's results directly. Safety is enforced in a `before_call`
hook that sees every request any schemathesis phase sends.
"""

from __future__ import annotations

import copy
import itertools
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import schemathesis
from schemathesis.config import PositiveDataAcceptanceConfig, SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from schemathesis.schemas import BaseSchema

from conformance import pool
from conformance.client import SetupError, make_client, request_headers
from conformance.fixtures import Unavailable, make_fixtures
from conformance.options import AUTO_PROCESSES, Options
from conformance.phases import schemathesis_checks as _checks  # noqa: F401  (registers the custom checks)
from conformance.target import Progress, Target
from conformance.transport import BoundedTransport
from jobspec import Operation, Spec
from jobspec.operations import find_operations
from jobspec.operations import session_operations as spec_session_operations
from verdicts.exchanges import VARIABLE_PREFIX
from verdicts.results import Finding, Results

PHASE = "schema"
TESTING_PHASES = ["examples", "coverage", "fuzzing", "stateful"]
STATEFUL = "stateful"
# What schemathesis imports only when it first runs (about 0.5 s): imported once, by the server helpers are forked from.
PRELOAD = (
    "hypothesis.stateful",
    "schemathesis.engine.core",
    "schemathesis.engine.run.stateful",
    "schemathesis.engine.run.unit",
    "schemathesis.specs.openapi.schemas",
)
HELPER_IMPORTS = (__name__, *PRELOAD)  # this module too: helpers find `_helper` by its module's name
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
COVERAGE = 60  # about the cases schemathesis's examples and coverage phases add to an operation's fuzzing
STOCK_PER_STATE = 2  # jobs per state for schemathesis: one may be deleted early and the state still be there
# Methods the coverage phase probes on every path even where the spec has no such operation. On a
# path without a job id (`DELETE /@jobs`) the guard cannot point them at an owned job, and a server
# may well bulk-change on them; so only --allow-destructive probes these.
BULK_METHODS = {"delete", "put", "patch"}
# schemathesis's checks of a method a path does not declare: they expect 405 with `Allow`, which Nick never answers.
METHOD_CHECKS = ("unsupported_method", "allow_header_conformance")
# Checks this suite does not run, each with its reason.
EXCLUDED_CHECKS = {
    # It needs two users who own different resources; jobs have no per-user ownership here.
    "object_level_authorization": "jobs are not owned per user",
}


def run(target: Target, progress: Progress) -> None:
    """Run every schemathesis phase the options allow and record each check per operation.

    With more than one process (`--processes`), the work is a queue of tasks (the stateful phase, and
    the stateless phases of each path's operations) that helper processes take in turn, each on its own
    core: schemathesis and hypothesis are CPU-bound, and threads (`--workers`) share one core. Their
    results join this run's in the queue's order, so a report does not depend on which finished first.
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
        target.results.not_exercised(PHASE, "all checks", _label(target.spec.operation(operation)), reason)


def _run_task(target: Target, task: Task, progress: Progress, first: int = 0) -> None:
    """One schemathesis run, its results recorded in `target.results`; progress phase by phase, or in one line."""
    if not task.operations:
        return
    schema = _configure(target, task.operations, task.phases)
    finished: list[str] = []
    with _guard(target, first):
        for event in from_schema(schema).execute():
            limited = getattr(schema.transport, "limited", None)  # BoundedTransport's (see `bind`)
            if limited is not None:  # the deployment's rate limit is spent: judging its refusals would be no verdict
                raise SetupError(target.client.rate_limited(limited))
            ended = _handle(target, event, task.phases)
            if ended is not None and task.label:
                finished.append(" ".join(ended))
            elif ended is not None:
                progress(f"schemathesis {ended[0]}: {ended[1]}")
    if task.label:
        progress(f"schemathesis {task.label}: {', '.join(finished)}")


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
    _run_task(target, handover.task, lines.append, first=handover.number)
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
    sessions = {op.operation_id for op in _session_candidates(spec, login)}
    sent: Counter[str] = Counter()
    for operation in spec.operations:
        cases = options.max_examples + COVERAGE
        sent[operation] += cases
        if operation in sessions:  # a throwaway login for each case that may end its session (see _bearer)
            sent[login] += 1 if renew is not None and operation == renew.operation_id else cases
    return sent


def _session_candidates(spec: Spec, login: str) -> list[Operation]:
    jobs_path = spec.operation(spec.lifecycle.removal.listed_by).path
    return [op for op in spec.operations.values() if not op.path.startswith(jobs_path) and op.operation_id != login]


def groups(spec: Spec) -> tuple[str, ...]:
    """The operations schemathesis checks, as it labels them."""
    return tuple(_label(op) for op in spec.operations.values())


def _label(operation: Operation) -> str:
    """An operation as schemathesis labels it, and so as this phase's results name it."""
    return f"{operation.method} {operation.path}"


def _stock(target: Target) -> None:
    """Jobs of every state for schemathesis to act on, when the fixtures can make them."""
    if target.options.read_only or target.fixtures.name == "none":
        return
    for state in [*target.spec.lifecycle.states] * STOCK_PER_STATE:
        try:
            target.fixtures.obtain(state)
        except Unavailable:
            continue


def bind(schema: BaseSchema, target: Target) -> BaseSchema:
    """The schema, sending through the suite's bounded adapter and carrying the lifecycle its checks judge by.

    A subclass made for this run: schemathesis clones a schema through its class, so filtered
    copies keep them; the registered checks read `lifecycle` and `id_field` from the schema of the
    case they judge.
    """
    transport = BoundedTransport(target.client.adapter)
    attributes = {
        "transport": property(lambda _: transport),
        "lifecycle": target.spec.lifecycle,
        "id_field": target.id_field,
    }
    schema.__class__ = type("JobsSchema", (type(schema),), attributes)
    return schema


def _configure(target: Target, operations: tuple[str, ...], phases: tuple[str, ...]) -> BaseSchema:
    """schemathesis for `operations` and `phases`, with the run's options."""
    options = target.options
    # schemathesis rewrites the document it is given in place; the loaded spec is shared, so it gets a copy.
    document = copy.deepcopy(target.spec.raw)
    schema: BaseSchema = bind(schemathesis.openapi.from_dict(document), target)
    verify: bool | str = str(options.cacert) if options.cacert else not options.insecure
    schema.config.update(
        base_url=target.client.base_url,
        workers=options.workers,
        request_timeout=options.timeout,
        headers=request_headers(options.header),
        tls_verify=verify,
    )
    schema.config.generation.update(max_examples=options.max_examples, database="none")
    schema.config.checks.update(excluded_check_names=sorted(EXCLUDED_CHECKS))
    if options.seed is not None:
        schema.config.seed = options.seed
    schema = schema.include(operation_id=list(operations))
    # Set on the filtered schema: given to the loader, per-operation entries would undo the filter (all operations).
    schema.config.operations = _check_config(target.spec).projects.default.operations
    schema.config.phases.update(phases=list(phases))
    coverage = schema.config.phases.coverage
    if options.read_only:
        coverage.unexpected_methods = set()  # no probing of other methods
    elif not options.allow_destructive:
        coverage.unexpected_methods = set(coverage.unexpected_methods) - BULK_METHODS
    schema.auth(refresh_interval=None)(_bearer(target, session_operation_ids(target)))
    return schema


def _check_config(spec: Spec) -> SchemathesisConfig:
    """schemathesis's checks as the spec says, operation by operation.

    - A lifecycle refusal is an answer to a valid request: its status (Nick's is a 400, which
      schemathesis otherwise takes for a rejected valid request) is one `positive_data_acceptance` expects.
    - A method a path does not declare gets 405 with `Allow` only where the spec promises it (a `405`
      documented on the path): elsewhere `unsupported_method` and `allow_header_conformance` do not run.
    """
    refused: dict[str, set[int]] = {}
    for refusal in spec.lifecycle.refusals:
        refused.setdefault(refusal.operation, set()).add(refusal.status)
    accepted = PositiveDataAcceptanceConfig().expected_statuses
    operations = []
    for operation in spec.operations.values():
        checks: dict[str, Any] = {}
        if operation.operation_id in refused:
            statuses = [*accepted, *(str(status) for status in sorted(refused[operation.operation_id]))]
            checks["positive_data_acceptance"] = {"expected-statuses": statuses}
        if not spec.promises_405(operation.path):
            checks.update({name: {"enabled": False} for name in METHOD_CHECKS})
        if checks:
            operations.append({"include-operation-id": operation.operation_id, "checks": checks})
    return SchemathesisConfig.from_dict({"operations": operations})


def session_operation_ids(target: Target) -> set[str]:
    """Operations on the session itself (renew, logout): everything outside the jobs paths but login."""
    return {op.operation_id for op in _session_candidates(target.spec, target.login_operation)}


def _bearer(target: Target, sessions: set[str]) -> type:
    """An auth provider: the suite's token, but a throwaway one for the session operations (renew, logout).

    One throwaway token serves every renewal until a logout takes it: logins count toward a
    deployment's rate limit (Nick: 5 per 15 minutes by default), so none is spent needlessly.
    """
    login_path = target.spec.operation(target.login_operation).path
    options = target.options
    _, renew, _ = spec_session_operations(target.spec)
    spare: list[str] = []

    class Bearer:
        def get(self, case: Any, ctx: Any) -> str | None:
            operation = case.operation.definition.raw.get("operationId")
            if operation not in sessions:
                return target.client.token
            token = spare.pop() if spare else target.client.login(login_path, options.login, options.password)
            target.client.keep_secret(token, "SESSION_TOKEN")
            if renew is not None and operation == renew.operation_id:
                spare.append(token)  # a renewal leaves its token valid: the next case may use it too
            return token

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"

    return Bearer


@contextmanager
def _guard(target: Target, first: int = 0) -> Iterator[None]:
    """Keep schemathesis off jobs the suite does not own (and off everything under --read-only).

    A request that would act on a job id the suite did not make (a documented example, an id
    taken from the list by a link) acts on the suite's own jobs instead, in turn; with none, on
    an id no job has. The curl line of any finding shows the id actually sent.
    """
    options, owned = target.options, target.fixtures.owned
    login_path = target.spec.operation(target.login_operation).path
    turn = itertools.count(first)  # tasks running side by side start at different owned jobs

    def before_call(context: Any, case: Any, kwargs: Any) -> None:
        method = case.method.upper()
        if options.read_only and method not in SAFE_METHODS and case.path != login_path:
            raise RuntimeError(f"--read-only: refusing {method} {case.path}")
        if options.allow_destructive or method in SAFE_METHODS:
            return
        for name, value in (case.path_parameters or {}).items():
            if isinstance(value, str) and value not in owned and _is_uuid(value):
                mine = sorted(owned)
                case.path_parameters[name] = mine[next(turn) % len(mine)] if mine else _nowhere(value)

    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(before_call, "before_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _nowhere(job_id: str) -> str:
    """An id no job has (derived from the foreign one, so runs repeat)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"jobs-conformance/{job_id}"))


def _handle(target: Target, event: Any, phases: tuple[str, ...]) -> tuple[str, str] | None:
    """Record what `event` says; for the end of one of `phases`, its name and status."""
    if isinstance(event, events.ScenarioFinished):
        _record(target, event.recorder)
    elif isinstance(event, events.PhaseFinished) and event.phase.name.value in phases:
        return event.phase.name.value, event.status.value
    elif isinstance(event, events.NonFatalError):
        message = f"{event.info.title}: {event.info.message}"
        target.results.failed(
            PHASE, "schemathesis_error", event.label, Finding("schemathesis_error", event.label, message)
        )
    elif isinstance(event, events.FatalError):
        message = f"schemathesis stopped: {event.exception}"
        target.results.failed(PHASE, "schemathesis_error", "run", Finding("schemathesis_error", "run", message))
    return None


def _record(target: Target, recorder: Any) -> None:
    for case_id, nodes in recorder.checks.items():
        node = recorder.cases.get(case_id)
        operation = node.value.operation.label if node is not None else recorder.label
        for check in nodes:
            if check.failure_info is None:
                if check.status.value == "success":
                    target.results.passed(PHASE, check.name, operation)
                continue
            interaction = recorder.interactions.get(case_id)
            finding = _finding(target, check.name, operation, check.failure_info, interaction)
            target.results.failed(PHASE, check.name, operation, finding)


def _finding(target: Target, name: str, operation: str, info: Any, interaction: Any) -> Finding:
    """A schemathesis failure as a finding, with the suite's tokens shown as shell variables."""
    failure = info.failure
    message = f"{failure.title}\n{failure.message}".strip()
    request = response = None
    curl = info.code_sample
    if interaction is not None:
        sent = interaction.request
        body = sent.body.decode("utf-8", "replace") if sent.body else None
        headers = {key: target.client.redact(value) for key, value in _flat(sent.headers).items()}
        request = {"method": sent.method, "url": sent.uri, "headers": headers, "body": body}
        if VARIABLE_PREFIX in headers.get("Authorization", ""):
            # schemathesis writes `[Filtered]` for credentials; the suite's own token has a name to use.
            curl = curl.replace("'Authorization: [Filtered]'", f'"Authorization: {headers["Authorization"]}"')
        if interaction.response is not None:
            got = interaction.response
            text = got.content.decode("utf-8", "replace")[:2000] if got.content else ""
            response = {"status": got.status_code, "headers": _flat(got.headers), "body": text}
    return Finding(name, operation, message, request, response, curl)


def _flat(headers: Any) -> dict[str, str]:
    return {key: value[0] if isinstance(value, list) and value else str(value) for key, value in headers.items()}
