"""The lifecycle read from the spec: its graph, its lookups, and loud failures on broken copies."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobspec import Lifecycle, LifecycleError, Refusal, Transition, load_spec
from jobspec.loader import packaged_spec_path

LIFECYCLE = load_spec().lifecycle


def test_every_state_is_reachable_from_the_initial_one() -> None:
    assert LIFECYCLE.reachable(LIFECYCLE.initial) == frozenset(LIFECYCLE.states)


@pytest.mark.parametrize("state", sorted(LIFECYCLE.terminal))
def test_terminal_states_have_no_worker_transitions(state: str) -> None:
    assert LIFECYCLE.worker_transitions(state) == ()


def test_retry_leads_back_to_the_initial_state() -> None:
    retry = LIFECYCLE.outcome("retryJob", "failed")
    assert isinstance(retry, Transition)
    assert retry.target == LIFECYCLE.initial
    assert {name: change.value for name, change in retry.changes.items()} == {
        "started": None,
        "finished": None,
        "result": {},
    }


def test_abort_of_a_running_job_fires_abort() -> None:
    abort = LIFECYCLE.outcome("abortJob", "running")
    assert isinstance(abort, Transition)
    assert (abort.target, abort.trigger.status, abort.changes["finished"].kind) == ("aborted", 204, "now")


@pytest.mark.parametrize(
    ("operation", "state"),
    [
        (op, s)
        for op, allowed in (("abortJob", "running"), ("retryJob", "failed"))
        for s in LIFECYCLE.states
        if s != allowed
    ],
)
def test_other_states_refuse_with_400(operation: str, state: str) -> None:
    refusal = LIFECYCLE.outcome(operation, state)
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.error_type) == (400, None)  # Nick has no 409, and its plain {"error": message}
    only = {"abortJob": "only a running job can be aborted.", "retryJob": "only a failed job can be retried."}
    body = {"error": f"Job 42 is {state}; {only[operation]}"}
    assert refusal.body("42", state) == body
    assert refusal.body_problems(body, state) == []
    assert refusal.body_problems({"error": {"type": "Conflict", "message": body["error"]}}, state) != []
    assert refusal.body_problems({"error": "Job 42 is gone."}, state) != []


def test_delete_removes_from_every_state() -> None:
    removal = LIFECYCLE.removal
    assert removal.states == frozenset(LIFECYCLE.states)
    assert set(removal.afterwards_operations) == {"getJob", "deleteJob", "abortJob", "retryJob"}
    assert (removal.status, removal.afterwards_status, removal.listed_by) == (204, 404, "getJobs")


def test_states_state_their_timestamps() -> None:
    assert LIFECYCLE.states["created"].fields == {"started": False, "finished": False}
    assert LIFECYCLE.states["running"].fields == {"started": True, "finished": False}
    assert all(LIFECYCLE.states[s].fields == {"started": True, "finished": True} for s in LIFECYCLE.terminal)


def test_invariants_are_read() -> None:
    invariants = LIFECYCLE.invariants
    assert invariants.ordered_timestamps == ("created", "started", "finished")
    assert set(invariants.immutable_fields) == {"uuid", "title", "description", "params", "actor", "created"}
    assert invariants.list_ignores == ("@id",)


@pytest.mark.parametrize(
    ("before", "after", "allowed"),
    [
        pytest.param("created", "completed", True, id="several-steps-at-once"),
        pytest.param("failed", "running", True, id="through-retry"),
        pytest.param("completed", "running", False, id="backwards"),
        pytest.param("aborted", "created", False, id="aborted-is-final"),
        pytest.param("running", "running", True, id="unchanged"),
    ],
)
def test_can_follow(before: str, after: str, allowed: bool) -> None:
    assert LIFECYCLE.can_follow(before, after) is allowed


def test_client_operations_come_from_the_spec() -> None:
    assert LIFECYCLE.client_operations() == ("abortJob", "retryJob")


Breaker = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Breaker:
    def breaker(section: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = section
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return breaker


def _drop_refusal_state(section: dict[str, Any]) -> None:
    section["refusals"][0]["from"].remove("created")


def _drop_abort(section: dict[str, Any]) -> None:
    del section["transitions"][3]


def _restart_completed(section: dict[str, Any]) -> None:
    section["transitions"].append({"name": "restart", "from": "completed", "to": "running", "trigger": "worker"})


def _refuse_retry_of_failed(section: dict[str, Any]) -> None:
    section["refusals"][1]["from"].append("failed")


def _drop_removal_state(section: dict[str, Any]) -> None:
    section["removal"]["from"].remove("running")


def _enum_without(document: dict[str, Any]) -> None:
    document["components"]["schemas"]["JobStatus"]["enum"].remove("aborted")


def _undocumented_refusal(document: dict[str, Any]) -> None:
    document["x-job-lifecycle"]["refusals"][0]["status"] = 423


BROKEN = [
    pytest.param(
        _set("transitions.0.to", "runing"), "transitions[0] (start).to: 'runing' is not a state", id="unknown-state"
    ),
    pytest.param(_set("initial", "queued"), "initial: 'queued' is not a state", id="unknown-initial"),
    pytest.param(
        _set("transitions.3.trigger.operation", "stopJob"), "'stopJob' is not an operationId", id="unknown-operation"
    ),
    pytest.param(_set("transitions.1.changes.finished", "$later"), "unknown token '$later'", id="unknown-token"),
    pytest.param(
        _set("transitions.1.changes.endedAt", "$now"), "'endedAt' is not a field of the Job schema", id="unknown-field"
    ),
    pytest.param(
        _set("states.running.fields.started", "maybe"), "'maybe' is neither null nor 'set'", id="bad-field-rule"
    ),
    pytest.param(_drop_abort, "states ['aborted'] cannot be reached from 'created'", id="unreachable-state"),
    pytest.param(_restart_completed, "out of the terminal state 'completed'", id="worker-leaves-terminal"),
    pytest.param(
        _drop_refusal_state, "abortJob on a 'created' job neither fires a transition nor is refused", id="gap"
    ),
    pytest.param(
        _refuse_retry_of_failed, "retryJob on a 'failed' job is both allowed (retry) and refused", id="overlap"
    ),
    pytest.param(_set("refusals.0.status", "409"), "refusals[0].status: expected an HTTP status code", id="bad-status"),
    pytest.param(_set("transitions", {"start": {}}), "transitions: expected a list", id="wrong-type"),
    pytest.param(_set("transitions.2.trigger", "cron"), "is neither 'worker' nor", id="bad-trigger"),
    pytest.param(
        _drop_removal_state, "deleteJob on a 'running' job neither fires a transition nor is refused", id="removal-gap"
    ),
    pytest.param(
        _set("refusals.0.message", "Job {id} is {job.status}"), "may name only {id} and {state}", id="bad-template"
    ),
    pytest.param(_set("refusals.0.message", "Job {id"), "refusals[0].message", id="broken-template"),
    pytest.param(_set("worker", None), "worker: expected a mapping", id="no-worker"),
    pytest.param(
        _set("worker.states.running.outcomes", {"complete": 1}),
        "worker.states.running.outcomes: expected a probability for each of ['complete', 'fail']",
        id="worker-outcome-missing",
    ),
    pytest.param(
        _set("worker.states.running.outcomes", {"complete": 0.7, "fail": 0.2}),
        "add up to 0.9",
        id="worker-probabilities-not-1",
    ),
    pytest.param(_set("worker.states.running.after", [30, 10]), "min <= max", id="worker-after-reversed"),
    pytest.param(_set("worker.states.running.after", 1e306), "worker.states.running.after", id="worker-after-huge"),
    pytest.param(_set("worker.states.running.setting", "delay"), "used by several states", id="worker-setting-twice"),
    pytest.param(
        _set("worker.states.running.setting", "outcome"),
        "setting: expected a params.mock key",
        id="worker-setting-reserved",
    ),
    pytest.param(
        _set("worker.states.completed", {"after": 1, "setting": "x", "outcomes": {}}),
        "the worker never moves a job from 'completed'",
        id="worker-state-without-transitions",
    ),
    pytest.param(
        _set("worker.error", {"code": 3}), "worker.error: expected an object with a text member", id="worker-error"
    ),
]

BROKEN_DOCUMENTS = [
    pytest.param(
        _enum_without,
        "Job.properties.status.enum: ['created', 'running', 'completed', 'failed'] disagrees",
        id="status-enum-disagrees",
    ),
    pytest.param(
        _undocumented_refusal,
        "refusals (abortJob): abortJob answers 423, which the operation does not document",
        id="undocumented-refusal-status",
    ),
]


@pytest.mark.parametrize(("breaker", "message"), BROKEN_DOCUMENTS)
def test_spec_whose_lifecycle_disagrees_with_its_operations_is_rejected(
    tmp_path: Path, breaker: Breaker, message: str
) -> None:
    document = yaml.safe_load(packaged_spec_path().read_text())
    breaker(document)
    copy_path = tmp_path / "jobs.yaml"
    copy_path.write_text(yaml.safe_dump(document))
    with pytest.raises(LifecycleError) as caught:
        load_spec(copy_path)
    assert message in str(caught.value)


@pytest.mark.parametrize(("breaker", "message"), BROKEN)
def test_broken_lifecycle_in_a_copy_of_the_spec_is_rejected(tmp_path: Path, breaker: Breaker, message: str) -> None:
    document = yaml.safe_load(packaged_spec_path().read_text())
    breaker(document["x-job-lifecycle"])
    copy_path = tmp_path / "jobs.yaml"
    copy_path.write_text(yaml.safe_dump(document))
    with pytest.raises(LifecycleError) as caught:
        load_spec(copy_path)
    assert message in str(caught.value)


def test_missing_lifecycle_section_is_rejected(tmp_path: Path) -> None:
    document = yaml.safe_load(packaged_spec_path().read_text())
    del document["x-job-lifecycle"]
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(LifecycleError, match="has no x-job-lifecycle section"):
        load_spec(tmp_path / "jobs.yaml")


def test_lifecycle_parses_without_spec_context() -> None:
    section = copy.deepcopy(load_spec().raw["x-job-lifecycle"])
    assert Lifecycle.from_dict(section) == LIFECYCLE
