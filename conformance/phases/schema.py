"""The schema phase: schemathesis over every operation, run in-process through its engine.

The engine's events carry every check's result per case, with the request, the response and a
curl line, so they become this suite's results directly. Safety is enforced in a `before_call`
hook that sees every request any schemathesis phase sends.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import schemathesis
from schemathesis.engine import events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from schemathesis.schemas import BaseSchema

from conformance import checks as _checks  # noqa: F401  (registers the custom checks)
from conformance.client import VARIABLE_PREFIX
from conformance.fixtures import Unavailable
from conformance.results import Finding
from conformance.target import Progress, Target
from conformance.transport import BoundedTransport
from jobspec import Spec

PHASE = "schema"
TESTING_PHASES = ["examples", "coverage", "fuzzing", "stateful"]
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
STOCK_PER_STATE = 2  # jobs per state for schemathesis: one may be deleted early and the state still be there
# Methods the coverage phase probes on every path even where the spec has no such operation. On a
# path without a job id (`DELETE /@jobs`) the guard cannot point them at an owned job, and a server
# may well bulk-change on them; so only --allow-destructive probes these.
BULK_METHODS = {"delete", "put", "patch"}
# Checks this suite does not run, each with its reason.
EXCLUDED_CHECKS = {
    # It needs two users who own different resources; jobs have no per-user ownership here.
    "object_level_authorization": "jobs are not owned per user",
}


def run(target: Target, progress: Progress) -> None:
    """Run every schemathesis phase the options allow and record each check per operation."""
    options = target.options
    progress(f"{PHASE}: schemathesis, {options.max_examples} examples per operation, seed {options.seed}")
    _stock(target)
    schema = _configure(target)
    with _guard(target):
        for event in from_schema(schema).execute():
            _handle(target, event, progress)


def groups(spec: Spec) -> tuple[str, ...]:
    """The operations schemathesis checks, as it labels them."""
    return tuple(f"{op.method} {op.path}" for op in spec.operations.values())


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


def _configure(target: Target) -> BaseSchema:
    options = target.options
    # schemathesis rewrites the document it is given in place; the loaded spec is shared, so it gets a copy.
    schema: BaseSchema = bind(schemathesis.openapi.from_dict(copy.deepcopy(target.spec.raw)), target)
    verify: bool | str = str(options.cacert) if options.cacert else not options.insecure
    schema.config.update(
        base_url=target.client.base_url,
        workers=options.workers,
        request_timeout=options.timeout,
        headers=dict(options.header) or None,
        tls_verify=verify,
    )
    schema.config.generation.update(max_examples=options.max_examples, database="none")
    schema.config.checks.update(excluded_check_names=sorted(EXCLUDED_CHECKS))
    if options.seed is not None:
        schema.config.seed = options.seed
    if options.read_only:
        # No single switch: only safe operations and login, no probing of other methods, no stateful phase.
        login = target.spec.operation(target.login_operation)
        schema = schema.include(
            lambda ctx: ctx.operation.method.upper() in SAFE_METHODS or ctx.operation.path == login.path
        )
        schema.config.phases.update(phases=TESTING_PHASES[:3])
        schema.config.phases.coverage.unexpected_methods = set()
    elif not options.allow_destructive:
        coverage = schema.config.phases.coverage
        coverage.unexpected_methods = set(coverage.unexpected_methods) - BULK_METHODS
    sessions = session_operations(target)
    if options.token is not None and sessions:
        schema = schema.exclude(operation_id=sorted(sessions))
        for operation in sorted(sessions):
            label = f"{target.spec.operation(operation).method} {target.spec.operation(operation).path}"
            reason = "--token given: the suite cannot log in for a throwaway session to end"
            target.results.not_exercised(PHASE, "all checks", label, reason)
    schema.auth(refresh_interval=None)(_bearer(target, sessions))
    return schema


def session_operations(target: Target) -> set[str]:
    """Operations on the session itself (renew, logout): everything outside the jobs paths but login."""
    jobs_path = target.spec.operation(target.list_operation).path
    return {
        op.operation_id
        for op in target.spec.operations.values()
        if not op.path.startswith(jobs_path) and op.operation_id != target.login_operation
    }


def _bearer(target: Target, sessions: set[str]) -> type:
    """An auth provider: the suite's token, but a throwaway one for operations that may end a session."""
    login_path = target.spec.operation(target.login_operation).path
    options = target.options

    class Bearer:
        def get(self, case: Any, ctx: Any) -> str | None:
            if case.operation.definition.raw.get("operationId") in sessions:
                token = target.client.login(login_path, options.login, options.password)
                target.client.keep_secret(token, "SESSION_TOKEN")
                return token
            return target.client.token

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"

    return Bearer


@contextmanager
def _guard(target: Target) -> Iterator[None]:
    """Keep schemathesis off jobs the suite does not own (and off everything under --read-only).

    A request that would act on a job id the suite did not make (a documented example, an id
    taken from the list by a link) acts on the suite's own jobs instead, in turn; with none, on
    an id no job has. The curl line of any finding shows the id actually sent.
    """
    options, owned = target.options, target.fixtures.owned
    login_path = target.spec.operation(target.login_operation).path
    turn = itertools.count()

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


def _handle(target: Target, event: Any, progress: Progress) -> None:
    if isinstance(event, events.ScenarioFinished):
        _record(target, event.recorder)
    elif isinstance(event, events.PhaseFinished) and event.phase.name.value in TESTING_PHASES:
        progress(f"schemathesis {event.phase.name.value}: {event.status.value}")
    elif isinstance(event, events.NonFatalError):
        message = f"{event.info.title}: {event.info.message}"
        target.results.failed(
            PHASE, "schemathesis_error", event.label, Finding("schemathesis_error", event.label, message)
        )
    elif isinstance(event, events.FatalError):
        message = f"schemathesis stopped: {event.exception}"
        target.results.failed(PHASE, "schemathesis_error", "run", Finding("schemathesis_error", "run", message))


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
