"""The suite's schemathesis checks: the spec's invariants applied to every job in every answer schemathesis gets.

Registered with schemathesis on import (the schema phase imports this module); the rules are
`jobspec.invariants`', the names those of `verdicts.checks`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis

from jobspec import Lifecycle
from jobspec.invariants import duplicate_problems, jobs_in, state_field_problems, timestamp_order_problems

Job = dict[str, Any]


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


@schemathesis.check
def jobs_listed_once(ctx: Any, response: Any, case: Any) -> bool | None:
    """No list in any response holds a job twice."""
    found = _response_jobs(response, case)
    id_field = getattr(case.operation.schema, "id_field", None)  # bound by the schema phase, beside the lifecycle
    if found is None or not isinstance(id_field, str):
        return None
    problems = duplicate_problems(found[0], response.json(), id_field)
    if problems:
        raise AssertionError("\n".join(problems))
    return True
