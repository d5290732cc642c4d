"""jobspec's one home for the lifecycle's rules: consistent jobs, the worker's defaults, paths, invariants."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from jobspec import InconsistentJob, Transition, invariants, load_spec
from jobspec.invariants import invariant_problems, job_in_state, settle
from jobspec.timestamps import as_ms, timestamp

LIFECYCLE = load_spec().lifecycle
NOW = 1_764_590_400_000  # 2025-12-01T12:00:00.000Z
BASE = {"uuid": "u", "title": "t", "description": "", "params": {}, "actor": "admin", "result": {}}
T0, T1, T2 = "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z"


def job(state: str, **fields: Any) -> dict[str, Any]:
    """A consistent job in `state`, as jobspec builds it, with some fields replaced."""
    base = {**BASE, "uuid": "a2fe7e07-d54b-435b-9cb0-e12f1f80a589", "created": T0}
    return {**job_in_state(LIFECYCLE, state, base, as_ms(T2) or 0), **fields}


# -- the problem functions --------------------------------------------------------------


@pytest.mark.parametrize("state", list(LIFECYCLE.states))
def test_job_in_state__is_consistent_in_every_state(state: str) -> None:
    job = job_in_state(LIFECYCLE, state, {**BASE, "created": NOW - 60_000}, NOW)
    assert job[LIFECYCLE.status_field] == state
    assert invariant_problems(LIFECYCLE, job) == []
    assert job["created"] == timestamp(NOW - 60_000), "a given timestamp is kept"


def test_job_in_state__applies_the_changes_of_the_path_to_it() -> None:
    failed = job_in_state(LIFECYCLE, "failed", {**BASE, "created": NOW}, NOW)
    assert failed["result"] == LIFECYCLE.worker_error()
    completed = job_in_state(LIFECYCLE, "completed", {**BASE, "created": NOW}, NOW)
    assert completed["result"] == dict(LIFECYCLE.worker_output)


def test_settle__moves_on_from_the_current_state_keeping_its_timestamps() -> None:
    fields: dict[str, Any] = {
        **BASE,
        "created": NOW - 2000,
        "started": NOW - 1000,
        "finished": None,
        "status": "running",
    }
    settle(LIFECYCLE, fields, "completed", NOW, output={"rows": 3})
    assert (fields["started"], fields["finished"], fields["result"]) == (NOW - 1000, NOW, {"rows": 3})


def test_settle__a_new_timestamp_never_goes_before_an_earlier_one() -> None:
    fields: dict[str, Any] = {**BASE, "created": NOW + 5000, "started": None, "finished": None, "status": "created"}
    settle(LIFECYCLE, fields, "aborted", NOW)
    assert fields["created"] <= fields["started"] <= fields["finished"]


def test_settle__given_fields_that_break_the_state_are_refused() -> None:
    fields: dict[str, Any] = {**BASE, "created": NOW, "started": None, "finished": NOW, "status": "created"}
    with pytest.raises(InconsistentJob) as caught:
        settle(LIFECYCLE, fields, "running", NOW, given={"finished"})
    assert caught.value.problems == [
        "Received `finished`: 1764590400000 with status running / Documented: null in running"
    ]


def test_settle__an_unknown_state_is_refused() -> None:
    with pytest.raises(InconsistentJob, match="'paused' is not one of created, running"):
        settle(LIFECYCLE, dict(BASE), "paused", NOW)


def test_path__is_the_shortest_chain_of_transitions() -> None:
    path = LIFECYCLE.path(LIFECYCLE.initial, "aborted")
    assert path is not None and [t.name for t in path] == ["start", "abort"]
    assert LIFECYCLE.path("aborted", "running") is None
    assert LIFECYCLE.path("failed", "failed") == ()


def test_worker_step__draws_outcomes_by_the_spec_probabilities() -> None:
    step = LIFECYCLE.worker_step("running")
    assert step is not None
    rng = random.Random(3)
    drawn = Counter(step.choose(rng).target for _ in range(4000))
    weights = {transition.target: weight for transition, weight in step.outcomes}
    for target, weight in weights.items():
        assert abs(drawn[target] / 4000 - weight) < 0.03, drawn


def test_worker_step__an_asked_outcome_wins_and_timings_stay_in_range() -> None:
    step = LIFECYCLE.worker_step("running")
    assert step is not None
    rng = random.Random(1)
    assert all(step.choose(rng, "failed").target == "failed" for _ in range(50))
    low, high = step.after
    assert all(low <= step.seconds(rng, None) <= high for _ in range(200))
    assert step.seconds(rng, 7) == 7.0
    assert low <= step.seconds(rng, 1e306) <= high, "an override the worker cannot keep is ignored"
    assert LIFECYCLE.worker_step("completed") is None


def test_worker_error__replaces_the_default_message() -> None:
    assert LIFECYCLE.worker_error("Disk full") == {"error": "Disk full"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2022-04-02T20:00:00.000Z", 1648929600000, id="text"),
        pytest.param(5, 5, id="milliseconds"),
        pytest.param("yesterday", None, id="not-a-time"),
        pytest.param(True, None, id="bool"),
    ],
)
def test_as_ms(value: object, expected: int | None) -> None:
    assert as_ms(value) == expected


@pytest.mark.parametrize("state", list(LIFECYCLE.states))
def test_state_fields__a_consistent_job_passes(state: str) -> None:
    assert invariants.invariant_problems(LIFECYCLE, job(state)) == []


@pytest.mark.parametrize(
    ("state", "field"),
    [(s, f) for s, rule in LIFECYCLE.states.items() for f in rule.fields],
)
def test_state_fields__flipping_a_field_is_named(state: str, field: str) -> None:
    broken = job(state)
    broken[field] = None if broken[field] is not None else T2
    problems = invariants.state_field_problems(LIFECYCLE, broken)
    assert len(problems) == 1
    assert f"`{field}`" in problems[0] and "Received" in problems[0] and "Documented" in problems[0]


def test_state_fields__an_unknown_status_is_named() -> None:
    assert "bogus" in invariants.state_field_problems(LIFECYCLE, {**job("created"), "status": "bogus"})[0]


def test_timestamps__started_before_created_is_named() -> None:
    problems = invariants.timestamp_order_problems(LIFECYCLE, job("running", created=T2, started=T1))
    assert len(problems) == 1 and "`created`" in problems[0]


def test_immutable__a_changed_title_is_named() -> None:
    problems = invariants.immutable_problems(LIFECYCLE, job("created"), job("created", title="other"))
    assert len(problems) == 1 and "`title`" in problems[0]


def test_backwards__a_started_that_goes_back_is_named() -> None:
    problems = invariants.backwards_problems(LIFECYCLE, job("running", started=T2), job("running", started=T1))
    assert len(problems) == 1 and "`started`" in problems[0] and "never goes back" in problems[0]


def test_backwards__a_timestamp_cleared_then_set_later_passes() -> None:
    first = job("failed", started=T1, finished=T1)
    assert invariants.backwards_problems(LIFECYCLE, first, job("created", started=None, finished=None)) == []
    assert invariants.backwards_problems(LIFECYCLE, first, job("running", started=T2)) == []


def _transition(operation: str, state: str) -> Transition:
    outcome = LIFECYCLE.outcome(operation, state)
    assert isinstance(outcome, Transition)
    return outcome


def test_changes__a_proper_retry_passes() -> None:
    retry = _transition("retryJob", "failed")
    before = job("failed", result={"error": "x"})
    after = job(retry.target)
    assert invariants.change_problems(LIFECYCLE, retry, before, after) == []


def test_changes__a_retry_that_keeps_timestamps_and_result_is_named() -> None:
    retry = _transition("retryJob", "failed")
    before = job("failed", result={"error": "x"})
    after = {**before, "status": retry.target}
    problems = invariants.change_problems(LIFECYCLE, retry, before, after)
    assert {p.split("`")[1] for p in problems} == {"started", "finished", "result"}


def test_changes__worker_progress_after_the_transition_is_accepted() -> None:
    retry = _transition("retryJob", "failed")
    moved = next(t.target for t in LIFECYCLE.worker_transitions(retry.target))
    assert invariants.change_problems(LIFECYCLE, retry, job("failed"), job(moved)) == []


def test_changes__a_wrong_target_is_named() -> None:
    abort = _transition("abortJob", "running")
    problems = invariants.change_problems(LIFECYCLE, abort, job("running"), job("completed"))
    assert problems and abort.target in problems[0]


def test_unchanged__a_refusal_that_moved_the_job_is_named() -> None:
    problems = invariants.unchanged_problems(LIFECYCLE, job("created"), job("aborted"))
    assert any("`status`" in p for p in problems)


def test_unchanged__worker_progress_is_not_a_change() -> None:
    assert invariants.unchanged_problems(LIFECYCLE, job("created"), job("running")) == []


def test_list__a_missing_job_and_a_differing_title_are_named() -> None:
    single = job("created")
    assert "missing" in invariants.list_problems(LIFECYCLE, None, single)[0]
    assert "`title`" in invariants.list_problems(LIFECYCLE, {**single, "title": "x"}, single)[0]


def test_list__ignores_the_documented_fields() -> None:
    single = {**job("created"), **dict.fromkeys(LIFECYCLE.invariants.list_ignores, "x")}
    assert invariants.list_problems(LIFECYCLE, job("created"), single) == []


def test_worker_reachable__only_along_worker_edges() -> None:
    assert "completed" in LIFECYCLE.worker_reachable("created")
    assert "aborted" not in LIFECYCLE.worker_reachable("created")
    assert "running" not in LIFECYCLE.worker_reachable("completed")


def test_jobs_in__a_list_a_job_and_not_a_job() -> None:
    assert len(invariants.jobs_in(LIFECYCLE, [job("created"), job("failed"), {"x": 1}])) == 2
    assert len(invariants.jobs_in(LIFECYCLE, job("created"))) == 1
    assert invariants.jobs_in(LIFECYCLE, {"token": "t"}) == []
