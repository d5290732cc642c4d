"""The spec's job invariants as small check functions, and as custom schemathesis checks.

Every rule comes from the lifecycle the spec states (`jobspec.Lifecycle`); nothing here knows a
state, a transition or a field by name.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import jsonschema_rs
import schemathesis

from conformance.client import Exchange
from jobspec import Lifecycle, Operation, Transition

Job = dict[str, Any]

# Check names, as reports and tests know them.
STATE_FIELDS = "job_state_fields"
TIMESTAMPS_ORDERED = "job_timestamps_ordered"
IMMUTABLE_FIELDS = "job_immutable_fields"
TRANSITION_ANSWER = "transition_answer"
TRANSITION_RESULT = "transition_result"
REFUSAL_ANSWER = "refusal_answer"
REFUSAL_UNCHANGED = "refusal_leaves_job_unchanged"
LIST_AGREES = "list_agrees_with_item"
DELETION_ANSWER = "deletion_answer"
DELETION_FINAL = "deletion_is_final"
WORKER_FOLLOWS = "worker_follows_lifecycle"
ITEM_NAMES_ITS_URL = "item_names_its_url"
LOGIN_WRONG_PASSWORD = "login_refuses_wrong_password"
LOGIN_MISSING_FIELD = "login_requires_both_fields"
RENEWED_TOKEN_WORKS = "renewed_token_works"
LOGOUT_ENDS_SESSION = "logout_ends_the_session"
ID_URL = "@id"  # plone.restapi's absolute URL of a resource


def answer_problems(operation: Operation, exchange: Exchange, status: int | None) -> list[str]:
    """The status received against `status`, and its body against the body the spec documents for it."""
    response = exchange.response
    if response.status != status:
        return [f"Received {response.received} / Documented: {status}"]
    documented = operation.responses.get(str(status), {})
    schema = documented.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return []
    if response.data is None:
        return [f"Received a body that is not JSON: {response.body[:200]!r} / Documented: {show(schema)[:200]}"]
    return [
        f"Received body {show(response.data)[:300]} / Documented for {status}: {error.message}"
        for error in list(_validator(show(schema)).iter_errors(response.data))[:3]
    ]


@functools.cache
def _validator(schema: str) -> Any:
    return jsonschema_rs.validator_for(json.loads(schema))


def show(value: Any) -> str:
    """A JSON rendering of a value for messages."""
    return json.dumps(value, sort_keys=True, default=str)


def state_field_problems(lifecycle: Lifecycle, job: Job) -> list[str]:
    """Fields null or set against what the job's state says."""
    status = job.get(lifecycle.status_field)
    rule = lifecycle.states.get(status) if isinstance(status, str) else None
    if rule is None:
        return [f"Received {lifecycle.status_field} {show(status)} / Documented: one of {', '.join(lifecycle.states)}"]
    problems = []
    for name, is_set in rule.fields.items():
        value = job.get(name)
        if is_set == (value is None):
            wanted = "set" if is_set else "null"
            problems.append(f"Received `{name}`: {show(value)} with status {status} / Documented: {wanted} in {status}")
    return problems


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def timestamp_order_problems(lifecycle: Lifecycle, job: Job) -> list[str]:
    """Set timestamps that decrease in the order the spec gives."""
    ordered = [(name, _timestamp(job.get(name))) for name in lifecycle.invariants.ordered_timestamps]
    present = [(name, stamp) for name, stamp in ordered if stamp is not None]
    return [
        f"Received `{a}` {job[a]} after `{b}` {job[b]} / Documented: {' <= '.join(n for n, _ in ordered)}"
        for (a, first), (b, second) in zip(present, present[1:], strict=False)
        if first > second
    ]


def invariant_problems(lifecycle: Lifecycle, job: Job) -> list[str]:
    """Everything wrong with one observation of a job."""
    return state_field_problems(lifecycle, job) + timestamp_order_problems(lifecycle, job)


def immutable_problems(lifecycle: Lifecycle, before: Job, after: Job) -> list[str]:
    """Fields the spec calls immutable that changed between two observations."""
    return [
        f"Received `{name}` {show(after.get(name))}, earlier {show(before.get(name))} / Documented: never changes"
        for name in lifecycle.invariants.immutable_fields
        if before.get(name) != after.get(name)
    ]


def differences(before: Job, after: Job, ignore: tuple[str, ...] = ()) -> list[str]:
    """Fields whose values differ, ignoring some."""
    names = sorted((set(before) | set(after)) - set(ignore))
    return [name for name in names if before.get(name) != after.get(name)]


def worker_can_move(lifecycle: Lifecycle, before: str, after: str) -> bool:
    """Whether the worker alone may take a job from `before` to `after` (zero or more steps)."""
    seen, frontier = {before}, [before]
    while frontier:
        for transition in lifecycle.worker_transitions(frontier.pop()):
            if transition.target not in seen:
                seen.add(transition.target)
                frontier.append(transition.target)
    return after in seen


def change_problems(lifecycle: Lifecycle, transition: Transition, before: Job, after: Job) -> list[str]:
    """What a job read back after `transition` fired gets wrong about it."""
    status = after.get(lifecycle.status_field)
    if status != transition.target:
        if isinstance(status, str) and worker_can_move(lifecycle, transition.target, status):
            return []  # the worker moved it on since; its fields are the later state's business
        return [
            f"Received {lifecycle.status_field} {show(status)} / Documented: {transition.target} after {transition.name}"
        ]
    problems = []
    for name, change in transition.changes.items():
        value = after.get(name)
        if change.kind == "value" and value != change.value:
            problems.append(
                f"Received `{name}`: {show(value)} / Documented: {show(change.value)} after {transition.name}"
            )
        elif change.kind == "now" and _timestamp(value) is None:
            problems.append(f"Received `{name}`: {show(value)} / Documented: the time of {transition.name}")
        elif change.kind in ("output", "error") and not isinstance(value, dict):
            problems.append(f"Received `{name}`: {show(value)} / Documented: a JSON object ({change.kind})")
    kept = (lifecycle.status_field, *transition.changes, *lifecycle.invariants.list_ignores)
    for name in differences(before, after, kept):
        problems.append(
            f"Received `{name}` changed to {show(after.get(name))} / Documented: {transition.name} keeps it"
        )
    return problems


def unchanged_problems(lifecycle: Lifecycle, before: Job, after: Job) -> list[str]:
    """A refused operation must leave the job exactly as it was (worker progress aside)."""
    was, now = before.get(lifecycle.status_field), after.get(lifecycle.status_field)
    if was != now and isinstance(was, str) and isinstance(now, str) and worker_can_move(lifecycle, was, now):
        return immutable_problems(lifecycle, before, after)
    changed = differences(before, after, lifecycle.invariants.list_ignores)
    return [
        f"Received `{name}` {show(before.get(name))} -> {show(after.get(name))} / Documented: unchanged"
        for name in changed
    ]


def list_problems(lifecycle: Lifecycle, listed: Job | None, single: Job) -> list[str]:
    """The list (read first) and the single GET (read second) must agree on a job."""
    if listed is None:
        return ["Received: the job is missing from the list / Documented: the list holds every job"]
    was, now = listed.get(lifecycle.status_field), single.get(lifecycle.status_field)
    if was != now and isinstance(was, str) and isinstance(now, str) and worker_can_move(lifecycle, was, now):
        return immutable_problems(lifecycle, listed, single)
    return [
        f"Received `{name}` {show(listed.get(name))} in the list, {show(single.get(name))} on its own / Documented: they agree"
        for name in differences(listed, single, lifecycle.invariants.list_ignores)
    ]


def jobs_in(lifecycle: Lifecycle, data: Any) -> list[Job]:
    """The jobs a response body holds: itself, or the items of a list, when they carry a status."""
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict) and lifecycle.status_field in item]


def _response_jobs(response: Any, case: Any) -> tuple[Lifecycle, list[Job]] | None:
    lifecycle = getattr(case.operation.schema, "lifecycle", None)  # bound by the schema phase (phases/schema.py)
    if not isinstance(lifecycle, Lifecycle) or not 200 <= response.status_code < 300 or not response.content:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return lifecycle, jobs_in(lifecycle, data)


def _judge_jobs(response: Any, case: Any, problems_of: Callable[[Lifecycle, dict[str, Any]], list[str]]) -> bool | None:
    """Apply one invariant to every job of a response: None if it carries no jobs, AssertionError on a breach."""
    found = _response_jobs(response, case)
    if found is None:
        return None
    lifecycle, jobs = found
    problems = [f"job {job.get('uuid')}: {p}" for job in jobs for p in problems_of(lifecycle, job)]
    if problems:
        raise AssertionError("\n".join(problems))
    return True


@schemathesis.check
def job_state_fields(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every job in every response has its timestamps null or set as its state says."""
    return _judge_jobs(response, case, state_field_problems)


@schemathesis.check
def job_timestamps_ordered(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every job in every response has its set timestamps in the spec's order."""
    return _judge_jobs(response, case, timestamp_order_problems)
