"""The invariant and lifecycle check functions, fed jobs straight from the spec's lifecycle."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import checks
from jobspec import Transition, load_spec

LIFECYCLE = load_spec().lifecycle
T0, T1, T2 = "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z"


def job(status: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "uuid": "a2fe7e07-d54b-435b-9cb0-e12f1f80a589",
        "title": "t",
        "description": "d",
        "params": {},
        "actor": "admin",
        "created": T0,
        "started": None,
        "finished": None,
        "status": status,
        "result": {},
    }
    for name, is_set in LIFECYCLE.states[status].fields.items():
        base[name] = T1 if is_set and name == "started" else (T2 if is_set else None)
    return {**base, **fields}


@pytest.mark.parametrize("state", list(LIFECYCLE.states))
def test_state_fields__a_consistent_job_passes(state: str) -> None:
    assert checks.invariant_problems(LIFECYCLE, job(state)) == []


@pytest.mark.parametrize(
    ("state", "field"),
    [(s, f) for s, rule in LIFECYCLE.states.items() for f in rule.fields],
)
def test_state_fields__flipping_a_field_is_named(state: str, field: str) -> None:
    broken = job(state)
    broken[field] = None if broken[field] is not None else T2
    problems = checks.state_field_problems(LIFECYCLE, broken)
    assert len(problems) == 1
    assert f"`{field}`" in problems[0] and "Received" in problems[0] and "Documented" in problems[0]


def test_state_fields__an_unknown_status_is_named() -> None:
    assert "bogus" in checks.state_field_problems(LIFECYCLE, {**job("created"), "status": "bogus"})[0]


def test_timestamps__started_before_created_is_named() -> None:
    problems = checks.timestamp_order_problems(LIFECYCLE, job("running", created=T2, started=T1))
    assert len(problems) == 1 and "`created`" in problems[0]


def test_immutable__a_changed_title_is_named() -> None:
    problems = checks.immutable_problems(LIFECYCLE, job("created"), job("created", title="other"))
    assert len(problems) == 1 and "`title`" in problems[0]


def _transition(operation: str, state: str) -> Transition:
    outcome = LIFECYCLE.outcome(operation, state)
    assert isinstance(outcome, Transition)
    return outcome


def test_changes__a_proper_retry_passes() -> None:
    retry = _transition("retryJob", "failed")
    before = job("failed", result={"error": "x"})
    after = job(retry.target)
    assert checks.change_problems(LIFECYCLE, retry, before, after) == []


def test_changes__a_retry_that_keeps_timestamps_and_result_is_named() -> None:
    retry = _transition("retryJob", "failed")
    before = job("failed", result={"error": "x"})
    after = {**before, "status": retry.target}
    problems = checks.change_problems(LIFECYCLE, retry, before, after)
    assert {p.split("`")[1] for p in problems} == {"started", "finished", "result"}


def test_changes__worker_progress_after_the_transition_is_accepted() -> None:
    retry = _transition("retryJob", "failed")
    moved = next(t.target for t in LIFECYCLE.worker_transitions(retry.target))
    assert checks.change_problems(LIFECYCLE, retry, job("failed"), job(moved)) == []


def test_changes__a_wrong_target_is_named() -> None:
    abort = _transition("abortJob", "running")
    problems = checks.change_problems(LIFECYCLE, abort, job("running"), job("completed"))
    assert problems and abort.target in problems[0]


def test_unchanged__a_refusal_that_moved_the_job_is_named() -> None:
    problems = checks.unchanged_problems(LIFECYCLE, job("created"), job("aborted"))
    assert any("`status`" in p for p in problems)


def test_unchanged__worker_progress_is_not_a_change() -> None:
    assert checks.unchanged_problems(LIFECYCLE, job("created"), job("running")) == []


def test_list__a_missing_job_and_a_differing_title_are_named() -> None:
    single = job("created")
    assert "missing" in checks.list_problems(LIFECYCLE, None, single)[0]
    assert "`title`" in checks.list_problems(LIFECYCLE, {**single, "title": "x"}, single)[0]


def test_list__ignores_the_documented_fields() -> None:
    single = {**job("created"), **dict.fromkeys(LIFECYCLE.invariants.list_ignores, "x")}
    assert checks.list_problems(LIFECYCLE, job("created"), single) == []


def test_worker_reachable__only_along_worker_edges() -> None:
    assert "completed" in LIFECYCLE.worker_reachable("created")
    assert "aborted" not in LIFECYCLE.worker_reachable("created")
    assert "running" not in LIFECYCLE.worker_reachable("completed")


def test_lifecycle_of__reads_a_schema_once_and_none_without_the_extension() -> None:
    raw = load_spec().raw
    assert checks.lifecycle_of(raw) is checks.lifecycle_of(raw)
    assert checks.lifecycle_of({"openapi": "3.1.0"}) is None


def test_jobs_in__a_list_a_job_and_not_a_job() -> None:
    assert len(checks.jobs_in(LIFECYCLE, [job("created"), job("failed"), {"x": 1}])) == 2
    assert len(checks.jobs_in(LIFECYCLE, job("created"))) == 1
    assert checks.jobs_in(LIFECYCLE, {"token": "t"}) == []
