"""The mock follows a deployment's own copy of the spec: other refusals, transitions, removal and worker defaults.

Each variant is a copy of the packaged spec changed one way; the mock serves it (strict, so every answer
is also checked against the copy) and is driven over HTTP. State names appear here on purpose: the
variants are written against the packaged spec's lifecycle.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from conformance.cli import main as conformance
from jobspec import load_spec
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock
from tests.helpers import spec_copy, typed_error_response
from tests.spec_variants import documented_405, write_variant

Document = dict[str, Any]


def _lifecycle(document: Document) -> Document:
    section: Document = document["x-job-lifecycle"]
    return section


def _responses(document: Document, operation_id: str) -> Document:
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                responses: Document = operation["responses"]
                return responses
    raise KeyError(operation_id)


def _refusal(document: Document, operation_id: str) -> Document:
    return next(r for r in _lifecycle(document)["refusals"] if r["operation"] == operation_id)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    """A function serving a variant of the spec (strict, manual clock) and logging in as admin."""
    servers: list[LiveMock] = []

    def serve(edit: Any) -> tuple[LiveMock, requests.Session]:
        spec = load_spec(spec_copy(tmp_path, edit))
        mock = LiveMock(spec, config=MockConfig(strict=True, seed=1), clock=Clock(manual=True)).start()
        servers.append(mock)
        session = requests.Session()
        token = session.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        session.headers["Authorization"] = f"Bearer {token}"
        return mock, session

    yield serve
    for mock in servers:
        try:
            assert mock.errors() == [], "the mock reported its own errors"
        finally:
            mock.stop()


def _held(mock: LiveMock, state: str, **mock_settings: Any) -> dict[str, Any]:
    params = {"mock": {"delay": 86400, "duration": 86400, **mock_settings}}
    job: dict[str, Any] = mock.control("POST", "jobs", {"status": state, "params": params})
    return job


def _unprocessable_refusals(document: Document) -> None:
    """Refusals answer 422 with another error type and message."""
    for operation_id in ("abortJob", "retryJob"):
        refusal = _refusal(document, operation_id)
        refusal.update(status=422, errorType="Unprocessable", message="Cannot {state} job {id}.")
        responses = _responses(document, operation_id)
        del responses["400"]
        responses["422"] = typed_error_response("The job's state does not allow this operation.", "Unprocessable")


def test_refusals_answer_the_variants_status_type_and_message(served: Any) -> None:
    mock, admin = served(_unprocessable_refusals)
    job = _held(mock, "created")
    response = admin.post(f"{mock.url}/@jobs/{job['uuid']}/abort")
    assert response.status_code == 422
    assert response.json() == {"error": {"type": "Unprocessable", "message": f"Cannot created job {job['uuid']}."}}
    assert admin.get(f"{mock.url}/@jobs/{job['uuid']}").json()["status"] == "created"


def _abort_queued_and_restart_aborted(document: Document) -> None:
    """abortJob also aborts a queued job; retryJob restarts an aborted job straight into running."""
    lifecycle = _lifecycle(document)
    lifecycle["transitions"] += [
        {
            "name": "cancel",
            "from": "created",
            "to": "aborted",
            "trigger": {"operation": "abortJob", "status": 204},
            "changes": {"started": "$now", "finished": "$now"},
        },
        {
            "name": "restart",
            "from": "aborted",
            "to": "running",
            "trigger": {"operation": "retryJob", "status": 204},
            "changes": {"finished": None, "result": {}},
        },
    ]
    _refusal(document, "abortJob")["from"].remove("created")
    _refusal(document, "retryJob")["from"].remove("aborted")


def test_extra_transitions_by_existing_operations_fire(served: Any) -> None:
    mock, admin = served(_abort_queued_and_restart_aborted)
    job = _held(mock, "created", duration=5, outcome="completed")
    url = f"{mock.url}/@jobs/{job['uuid']}"
    assert admin.post(f"{url}/abort").status_code == 204
    aborted = admin.get(url).json()
    assert (aborted["status"], aborted["started"] is not None, aborted["finished"] is not None) == (
        "aborted",
        True,
        True,
    )
    assert admin.post(f"{url}/retry").status_code == 204
    restarted = admin.get(url).json()
    assert (restarted["status"], restarted["started"], restarted["finished"]) == ("running", aborted["started"], None)
    mock.control("POST", "clock/advance", {"seconds": 6})
    assert admin.get(url).json()["status"] == "completed", "the worker runs a restarted job like any running one"
    refused = admin.post(f"{url}/abort")
    assert (refused.status_code, refused.json()) == (
        400,
        {"error": f"Job {job['uuid']} is completed; only a running job can be aborted."},
    ), "a completed job is still refused, in the packaged spec's words"


def _busy_jobs_stay(document: Document) -> None:
    """deleteJob removes finished jobs only; a queued or running one is refused with 409."""
    lifecycle = _lifecycle(document)
    lifecycle["removal"]["from"] = ["completed", "failed", "aborted"]
    lifecycle["refusals"].append(
        {
            "operation": "deleteJob",
            "from": ["created", "running"],
            "status": 409,
            "errorType": "Busy",
            "message": "Job {id} is {state}: abort it first.",
        }
    )
    _responses(document, "deleteJob")["409"] = typed_error_response("The job is still queued or running.", "Busy")


def test_removal_applies_only_where_the_variant_says(served: Any) -> None:
    mock, admin = served(_busy_jobs_stay)
    running, done = _held(mock, "running"), _held(mock, "completed")
    response = admin.delete(f"{mock.url}/@jobs/{running['uuid']}")
    assert response.status_code == 409
    assert response.json()["error"] == {"type": "Busy", "message": f"Job {running['uuid']} is running: abort it first."}
    assert admin.get(f"{mock.url}/@jobs/{running['uuid']}").status_code == 200
    assert admin.delete(f"{mock.url}/@jobs/{done['uuid']}").status_code == 204
    assert admin.get(f"{mock.url}/@jobs/{done['uuid']}").status_code == 404


def _gloomy_worker(document: Document) -> None:
    """Jobs wait exactly 1 s, run exactly 2 s unless told otherwise, and always fail, with the variant's own error."""
    worker = _lifecycle(document)["worker"]
    worker["states"]["created"].update(after=1, setting="wait")
    worker["states"]["running"].update(after=[2, 2], setting="runFor", outcomes={"fail": 1, "complete": 0})
    worker["error"] = {"error": "Out of coffee."}


def test_worker_defaults_come_from_the_variant(served: Any) -> None:
    mock, admin = served(_gloomy_worker)
    plain = mock.control("POST", "jobs", {"title": "plain"})
    slow = mock.control("POST", "jobs", {"title": "slow", "params": {"mock": {"runFor": 60, "duration": 0}}})
    told = mock.control("POST", "jobs", {"title": "told", "params": {"mock": {"outcome": "completed"}}})
    mock.control("POST", "clock/advance", {"seconds": 1})
    assert {admin.get(f"{mock.url}/@jobs/{j['uuid']}").json()["status"] for j in (plain, slow, told)} == {"running"}
    mock.control("POST", "clock/advance", {"seconds": 2})
    failed = admin.get(f"{mock.url}/@jobs/{plain['uuid']}").json()
    assert (failed["status"], failed["result"]) == ("failed", {"error": "Out of coffee."})
    assert admin.get(f"{mock.url}/@jobs/{told['uuid']}").json()["status"] == "completed", "params.mock.outcome wins"
    assert admin.get(f"{mock.url}/@jobs/{slow['uuid']}").json()["status"] == "running", (
        "the variant's setting, not 'duration'"
    )


def test_a_copy_documenting_405_on_a_path_gets_405_with_allow_there_and_404_elsewhere(served: Any) -> None:
    """Where a deployment's spec documents 405 on a path, the mock answers an undeclared method there as the spec
    says (405 and `Allow`); every other path keeps Nick's 404."""
    mock, admin = served(documented_405)
    job = _held(mock, "created")
    for method in ("PUT", "PATCH", "POST"):
        response = admin.request(method, f"{mock.url}/@jobs/{job['uuid']}")
        path = f"/@jobs/{job['uuid']}"
        message = f"{method} is not allowed on {path}; allowed: DELETE, GET, HEAD."
        assert (response.status_code, response.json()) == (
            405,
            {"error": {"type": "Method not allowed", "message": message}},
        )
        assert response.headers["Allow"] == "DELETE, GET, HEAD"
    elsewhere = admin.put(f"{mock.url}/@jobs")
    assert (elsewhere.status_code, elsewhere.json()) == (404, {"error": "Not found: /@jobs"})
    assert "Allow" not in elsewhere.headers
    assert admin.get(f"{mock.url}/@jobs/{job['uuid']}").json()["status"] == "created"


def test_the_405_a_copy_documents_holds_under_a_content_path_a_session_prefix_and_a_preflight(served: Any) -> None:
    """The router's 405 answered in Nick's shape wherever the path is reached, its methods named to a preflight, and
    journaled; a path no route takes stays Nick's 404 there too."""
    mock, admin = served(documented_405)
    job = _held(mock, "created")
    mock.control("POST", "sessions", {"name": "s"})
    origin = {"Origin": "http://localhost:3000"}
    paths = [f"/news/@jobs/{job['uuid']}", f"/__session/s/@jobs/{job['uuid']}"]
    for path in paths:
        response = admin.put(f"{mock.url}{path}", headers=origin)
        assert (response.status_code, response.json()["error"]["type"]) == (405, "Method not allowed"), path
        assert response.json()["error"]["message"].startswith("PUT is not allowed on ")
        assert response.headers["Allow"] == "DELETE, GET, HEAD"
        assert response.headers["Access-Control-Allow-Origin"] == origin["Origin"]
        asked = {**origin, "Access-Control-Request-Method": "DELETE"}
        preflight = requests.options(f"{mock.url}{path}", headers=asked)
        assert preflight.status_code == 204, path
        assert preflight.headers["Access-Control-Allow-Methods"] == "DELETE, GET, HEAD"
    missing = admin.put(f"{mock.url}/__session/s/no/such/@thing")
    assert (missing.status_code, missing.json()) == (404, {"error": "Not found: /no/such/@thing"})
    journal = [(entry["method"], entry["path"], entry["status"]) for entry in mock.control("GET", "journal")]
    assert journal[-3:] == [  # a preflight answered is not journaled
        *[("PUT", path, 405) for path in paths],
        ("PUT", "/__session/s/no/such/@thing", 404),
    ]
    assert mock.errors() == []


def test_a_copy_whose_states_are_named_otherwise_starts_alone_with_jobs_in_its_own_states(tmp_path: Path) -> None:
    # Issue 27, item 19: no --data file of its own needed; the built-in jobs are made over into its states.
    variant = write_variant("renamed-states", tmp_path)
    spec = load_spec(variant)
    with LiveMock(spec, config=MockConfig(frozen=True), clock=Clock(manual=True)) as mock:
        token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        jobs = requests.get(f"{mock.url}/@jobs", headers={"Authorization": f"Bearer {token}"}).json()
        suite = ["--base-url", mock.url, "--spec", str(variant), "--fixtures", "mock", "--phases", "lifecycle", "-q"]
        assert conformance(suite) == 0, "the suite given the copy finds the mock given the copy conformant"
        assert mock.errors() == []
    statuses = {job[spec.lifecycle.status_field] for job in jobs}
    assert statuses == set(spec.lifecycle.states) == {"queued", "running", "succeeded", "failed", "aborted"}
    assert not [job for job in jobs if job["status"] == "queued" and (job["started"] or job["finished"])]
