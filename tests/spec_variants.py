"""Copies of the packaged spec whose lifecycle differs on purpose, as a deployment's own copy would.

Each builder edits a fresh copy of `spec/jobs.yaml` and keeps it a valid document: a status the
lifecycle answers is documented by its operation, with the exact error body it has.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import spec_copy, typed_error_response

Document = dict[str, Any]
LOCKED_TYPE = "Invalid state"


def locked_refusals(document: Document) -> None:
    """(a) Refused transitions answer 423 in Nick's typed shape, with error type "Invalid state" and a message of
    their own (the spec's `errorType`), instead of Nick's 400 `{"error": message}`."""
    for refusal in document["x-job-lifecycle"]["refusals"]:
        refusal.update(status=423, errorType=LOCKED_TYPE, message="Cannot do that: job {id} is {state}.")
    for path in ("/@jobs/{id}/abort", "/@jobs/{id}/retry"):
        responses = document["paths"][path]["post"]["responses"]
        del responses["400"]
        responses["423"] = typed_error_response("The job's state does not allow this.", LOCKED_TYPE)


def documented_405(document: Document) -> None:
    """(e) A method `/@jobs/{id}` does not declare answers 405 with `Allow`: the path documents a 405."""
    for method in ("get", "delete"):
        document["paths"]["/@jobs/{id}"][method]["responses"]["405"] = {
            "description": "The path does not have this method; `Allow` names those it has.",
            "headers": {"Allow": {"required": True, "schema": {"type": "string"}}},
        }


def cancel_queued(document: Document) -> None:
    """(b) Aborting a queued job cancels it: a second transition fired by abortJob, from another state."""
    lifecycle = document["x-job-lifecycle"]
    lifecycle["transitions"].append(
        {
            "name": "cancel",
            "from": "created",
            "to": "aborted",
            "trigger": {"operation": "abortJob", "status": 204},
            "changes": {"started": "$now", "finished": "$now"},
        }
    )
    abort = next(r for r in lifecycle["refusals"] if r["operation"] == "abortJob")
    abort["from"].remove("created")


def expiring_worker(document: Document) -> None:
    """(c) Other worker defaults: quick, and by default a running job expires (the worker aborts it)."""
    lifecycle = document["x-job-lifecycle"]
    lifecycle["transitions"].append(
        {"name": "expire", "from": "running", "to": "aborted", "trigger": "worker", "changes": {"finished": "$now"}}
    )
    lifecycle["worker"] = {
        "states": {
            "created": {"after": [0.2, 0.3], "setting": "queued_for", "outcomes": {"start": 1}},
            "running": {
                "after": 0.3,
                "setting": "runs_for",
                "outcomes": {"complete": 0, "fail": 0, "expire": 1},
            },
        },
        "output": {"rows": 0},
        "error": {"error": "Quota exceeded", "retryable": False},
    }


def retry_resumes(document: Document) -> None:
    """(d) A retried job resumes at once: retry leads to running, a state other than the initial one."""
    retry = next(t for t in document["x-job-lifecycle"]["transitions"] if t["name"] == "retry")
    retry.update(to="running", changes={"started": "$now", "finished": None, "result": {}})


RENAMED = {"created": "queued", "completed": "succeeded"}


def renamed_states(document: Document) -> None:
    """(e) A deployment whose lifecycle names its states otherwise: queued and succeeded."""

    def name(state: str) -> str:
        return RENAMED.get(state, state)

    lifecycle = document["x-job-lifecycle"]
    lifecycle["states"] = {name(state): body for state, body in lifecycle["states"].items()}
    lifecycle["initial"], lifecycle["terminal"] = name(lifecycle["initial"]), [name(s) for s in lifecycle["terminal"]]
    for transition in lifecycle["transitions"]:
        transition["from"], transition["to"] = name(transition["from"]), name(transition["to"])
    for refusal in lifecycle["refusals"]:
        refusal["from"] = [name(state) for state in refusal["from"]]
    lifecycle["removal"]["from"] = [name(state) for state in lifecycle["removal"]["from"]]
    lifecycle["worker"]["states"] = {name(state): body for state, body in lifecycle["worker"]["states"].items()}
    enum = document["components"]["schemas"]["JobStatus"]
    enum["enum"] = [name(state) for state in enum["enum"]]


VARIANTS: dict[str, Callable[[Document], None]] = {
    "locked-refusals": locked_refusals,
    "cancel-queued": cancel_queued,
    "expiring-worker": expiring_worker,
    "retry-resumes": retry_resumes,
    "renamed-states": renamed_states,
    "documented-405": documented_405,
}


def write_variant(name: str, directory: Path) -> Path:
    """The variant `name` of the packaged spec, written to `directory`."""
    return spec_copy(directory, VARIANTS[name]).rename(directory / f"{name}.yaml")
