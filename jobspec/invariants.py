"""What holds for every job the lifecycle describes: invariants, allowed changes, and consistent jobs.

Every rule is read from a `Lifecycle`; nothing here knows a state, a transition or a field by name.
The problem functions return messages in the "Received … / Documented …" form, empty when all is well.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from jobspec.lifecycle import Change, Lifecycle, Transition
from jobspec.timestamps import as_ms, timestamp

Job = Mapping[str, Any]


class InconsistentJob(ValueError):
    """A job that would break the lifecycle's invariants; `problems` says how."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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


def timestamp_order_problems(lifecycle: Lifecycle, job: Job) -> list[str]:
    """Set timestamps (text or milliseconds) that decrease in the order the spec gives."""
    ordered = [(name, as_ms(job.get(name))) for name in lifecycle.invariants.ordered_timestamps]
    present = [(name, stamp) for name, stamp in ordered if stamp is not None]
    return [
        f"Received `{a}` {show(job[a])} after `{b}` {show(job[b])} / Documented: {' <= '.join(n for n, _ in ordered)}"
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


def backwards_problems(lifecycle: Lifecycle, before: Job, after: Job) -> list[str]:
    """Ordered timestamps set in both of two observations that went back in time between them.

    A retry may clear a timestamp and a later transition set it again, but never to an earlier time.
    """
    problems = []
    for name in lifecycle.invariants.ordered_timestamps:
        earlier, later = as_ms(before.get(name)), as_ms(after.get(name))
        if earlier is not None and later is not None and later < earlier:
            problems.append(
                f"Received `{name}` {show(after.get(name))}, earlier {show(before.get(name))} / Documented: time never goes back"
            )
    return problems


def differences(before: Job, after: Job, ignore: Iterable[str] = ()) -> list[str]:
    """Fields whose values differ, ignoring some."""
    names = sorted((set(before) | set(after)) - set(ignore))
    return [name for name in names if before.get(name) != after.get(name)]


def _moved_on(lifecycle: Lifecycle, was: Any, now: Any) -> bool:
    """Whether the worker alone may have taken a job from `was` to another state `now`."""
    return was != now and isinstance(was, str) and isinstance(now, str) and now in lifecycle.worker_reachable(was)


def change_problems(lifecycle: Lifecycle, transition: Transition, before: Job, after: Job) -> list[str]:
    """What a job read back after `transition` fired gets wrong about it."""
    status = after.get(lifecycle.status_field)
    if status != transition.target:
        if _moved_on(lifecycle, transition.target, status):
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
        elif change.kind == "now" and as_ms(value) is None:
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
    if _moved_on(lifecycle, before.get(lifecycle.status_field), after.get(lifecycle.status_field)):
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
    if _moved_on(lifecycle, listed.get(lifecycle.status_field), single.get(lifecycle.status_field)):
        return immutable_problems(lifecycle, listed, single)
    return [
        f"Received `{name}` {show(listed.get(name))} in the list, {show(single.get(name))} on its own / Documented: they agree"
        for name in differences(listed, single, lifecycle.invariants.list_ignores)
    ]


def jobs_in(lifecycle: Lifecycle, data: Any) -> list[dict[str, Any]]:
    """The jobs a response body holds: itself, or the items of a list, when they carry a status."""
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict) and lifecycle.status_field in item]


# -- consistent jobs -------------------------------------------------------------------


def settle(
    lifecycle: Lifecycle,
    fields: dict[str, Any],
    state: str,
    now_ms: int,
    *,
    given: Iterable[str] = (),
    output: Mapping[str, Any] | None = None,
    error: Mapping[str, Any] | None = None,
) -> None:
    """Put a job's working copy in `state` consistently; InconsistentJob if it cannot be.

    `fields` is the job's representation with its ordered timestamps as int milliseconds. The job
    moves along the shortest chain of transitions from its current state (or, when there is none,
    from the initial state) as if each had fired at `now_ms`; the fields named in `given` keep
    their values; a timestamp the state needs and still lacks is set, one it forbids is cleared.
    """
    if state not in lifecycle.states:
        raise InconsistentJob([f"{lifecycle.status_field}: {state!r} is not one of {', '.join(lifecycle.states)}"])
    kept = frozenset(given) - {lifecycle.status_field}
    stamps = lifecycle.invariants.ordered_timestamps
    current = fields.get(lifecycle.status_field)
    path = lifecycle.path(current, state) if isinstance(current, str) and current in lifecycle.states else None
    if path is None:
        path = lifecycle.path(lifecycle.initial, state) or ()
        _apply_rule(lifecycle, fields, lifecycle.initial, now_ms, kept)
    for transition in path:
        for name, change in transition.changes.items():
            if name not in kept:
                fields[name] = _value(lifecycle, change, _latest(now_ms, fields, stamps), output, error)
    _apply_rule(lifecycle, fields, state, now_ms, kept)
    fields[lifecycle.status_field] = lifecycle.states[state].name  # the lifecycle's own string, shared by every job
    problems = invariant_problems(lifecycle, fields)
    if problems:
        raise InconsistentJob(problems)


def job_in_state(lifecycle: Lifecycle, state: str, base: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """A whole representation of a consistent job in `state`, from `base` (its other fields); timestamps as text.

    The timestamps of `base` (text or milliseconds) are kept where `state` allows them.
    """
    stamps = lifecycle.invariants.ordered_timestamps
    fields = {**copy.deepcopy(dict(base)), **{name: as_ms(base.get(name)) for name in stamps}}
    fields.pop(lifecycle.status_field, None)
    given = [name for name in stamps if fields[name] is not None]
    settle(lifecycle, fields, state, now_ms, given=given)
    return {**fields, **{name: None if fields[name] is None else timestamp(fields[name]) for name in stamps}}


def _apply_rule(lifecycle: Lifecycle, fields: dict[str, Any], state: str, now_ms: int, kept: frozenset[str]) -> None:
    stamps = lifecycle.invariants.ordered_timestamps
    for name, must_be_set in lifecycle.states[state].fields.items():
        if name in kept:
            continue
        if not must_be_set:
            fields[name] = None
        elif fields.get(name) is None:
            fields[name] = _latest(now_ms, fields, stamps)


def _latest(now_ms: int, fields: Mapping[str, Any], stamps: Iterable[str]) -> int:
    """`now_ms`, or the job's latest timestamp if later: a new timestamp never goes before an earlier one."""
    present = [as_ms(fields.get(name)) for name in stamps]
    return max([now_ms, *(stamp for stamp in present if stamp is not None)])


def _value(
    lifecycle: Lifecycle,
    change: Change,
    now_ms: int,
    output: Mapping[str, Any] | None,
    error: Mapping[str, Any] | None,
) -> Any:
    if change.kind == "now":
        return now_ms
    if change.kind == "output":
        return copy.deepcopy(dict(output if output is not None else lifecycle.worker_output))
    if change.kind == "error":
        return copy.deepcopy(dict(error if error is not None else lifecycle.worker_error()))
    return copy.deepcopy(change.value)
