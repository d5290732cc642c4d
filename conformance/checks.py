"""The spec's job invariants as small check functions, and as custom schemathesis checks.

Every rule comes from the lifecycle the spec states (`jobspec.Lifecycle`); nothing here knows a
state, a transition or a field by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis

from jobspec import Lifecycle, LifecycleError
from jobspec.invariants import (
    change_problems,
    differences,
    immutable_problems,
    invariant_problems,
    jobs_in,
    list_problems,
    show,
    state_field_problems,
    timestamp_order_problems,
    unchanged_problems,
)

Job = dict[str, Any]
LIFECYCLE_KEY = "x-job-lifecycle"

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

__all__ = [
    "change_problems",
    "differences",
    "immutable_problems",
    "invariant_problems",
    "jobs_in",
    "list_problems",
    "show",
    "state_field_problems",
    "timestamp_order_problems",
    "unchanged_problems",
]


_CACHE: dict[int, tuple[Any, Lifecycle | None]] = {}


def lifecycle_of(raw_schema: Any) -> Lifecycle | None:
    """The lifecycle of a schema schemathesis loaded (parsed once per schema); None if it has none."""
    key = id(raw_schema)
    if key not in _CACHE or _CACHE[key][0] is not raw_schema:
        try:
            lifecycle = Lifecycle.from_dict(raw_schema[LIFECYCLE_KEY]) if LIFECYCLE_KEY in raw_schema else None
        except LifecycleError:
            lifecycle = None
        _CACHE[key] = (raw_schema, lifecycle)
    return _CACHE[key][1]


def _response_jobs(response: Any, case: Any) -> tuple[Lifecycle, list[Job]] | None:
    lifecycle = lifecycle_of(case.operation.schema.raw_schema)
    if lifecycle is None or not 200 <= response.status_code < 300 or not response.content:
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
