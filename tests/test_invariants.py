"""jobspec's one home for the lifecycle's rules: consistent jobs, the worker's defaults, paths, invariants."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from jobspec import InconsistentJob, load_spec
from jobspec.invariants import invariant_problems, job_in_state, settle
from jobspec.timestamps import as_ms, timestamp

LIFECYCLE = load_spec().lifecycle
NOW = 1_764_590_400_000  # 2025-12-01T12:00:00.000Z
BASE = {"uuid": "u", "title": "t", "description": "", "params": {}, "actor": "admin", "result": {}}


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
