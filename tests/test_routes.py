"""Every row of the contract's tables, against the live mock over HTTP."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from jobspec import Refusal, Transition
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID, DOCUMENTED_TOKEN
from tests.helpers import LIFECYCLE, assert_invariants, create, listed, read

DOCUMENTED_JOB = {
    "uuid": DOCUMENTED_ID,
    "title": "Reindex Events",
    "description": "Reindex all events",
    "params": {"scheduled_job": "reindex-events", "action": "reindex", "type": "Event"},
    "actor": "admin",
    "created": "2022-04-02T20:00:00.000Z",
    "started": None,
    "finished": None,
    "status": "created",
    "result": {},
}
NOT_AUTHORIZED = {"message": "You are not authorized to access this resource."}
IMMUTABLE = LIFECYCLE.invariants.immutable_fields
REFUSED_BECAUSE = {"abortJob": "only a running job can be aborted.", "retryJob": "only a failed job can be retried."}


def test_list_holds_the_documented_job_exactly(admin: requests.Session, mock: LiveMock) -> None:
    response = admin.get(f"{mock.url}/@jobs")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert listed(admin, mock)[DOCUMENTED_ID] == DOCUMENTED_JOB


def test_default_data_has_a_job_in_every_state(admin: requests.Session, mock: LiveMock) -> None:
    jobs = listed(admin, mock).values()
    assert {job["status"] for job in jobs} == set(LIFECYCLE.states)
    for job in jobs:
        assert_invariants(job)
    failed = [job for job in jobs if job["status"] == "failed"]
    assert all(isinstance(job["result"].get("error"), str) for job in failed)


def test_get_adds_id_from_the_host_header(admin: requests.Session, mock: LiveMock) -> None:
    body = admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers={"Host": "localhost:8080"}).json()
    assert body == {"@id": f"http://localhost:8080/@jobs/{DOCUMENTED_ID}", **DOCUMENTED_JOB}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "cms.example.org"},
            "https://cms.example.org",
            id="forwarded",
        ),
        pytest.param({"X-Forwarded-Host": "bad host/<>"}, "http://localhost:8080", id="unsafe-forwarded-host-ignored"),
        pytest.param({"X-Forwarded-Proto": "gopher"}, "http://localhost:8080", id="unknown-proto-ignored"),
    ],
)
def test_id_honours_forwarding_headers(
    admin: requests.Session, mock: LiveMock, headers: dict[str, str], expected: str
) -> None:
    body = admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers={"Host": "localhost:8080", **headers}).json()
    assert body["@id"] == f"{expected}/@jobs/{DOCUMENTED_ID}"


def test_documented_token_works_verbatim(mock: LiveMock) -> None:
    response = requests.get(
        f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers={"Authorization": f"Bearer {DOCUMENTED_TOKEN}"}
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Reindex Events"


@pytest.mark.parametrize("job_id", ["0c9d3a3e-0000-4000-8000-000000000000", "not-a-uuid", "%20", "ünïcødé", "a" * 300])
def test_unknown_or_odd_ids_are_404(admin: requests.Session, mock: LiveMock, job_id: str) -> None:
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/abort"), ("POST", "/retry")):
        response = admin.request(method, f"{mock.url}/@jobs/{job_id}{suffix}")
        assert (response.status_code, response.json()) == (404, {"error": "Not found."}), (method, suffix)


CLIENT_CELLS = [
    pytest.param(operation, state, id=f"{operation}-{state}")
    for operation in LIFECYCLE.client_operations()
    for state in LIFECYCLE.states
]


@pytest.mark.parametrize(("operation", "state"), CLIENT_CELLS)
def test_client_operation_from_every_state(admin: requests.Session, mock: LiveMock, operation: str, state: str) -> None:
    before = create(mock, state)
    path = mock.state.spec.operation(operation).path.replace("{id}", before["uuid"])
    outcome = LIFECYCLE.outcome(operation, state)
    response = admin.post(f"{mock.url}{path}")
    after = read(admin, mock, before["uuid"])
    assert_invariants(after)
    assert {k: after[k] for k in IMMUTABLE} == {k: before[k] for k in IMMUTABLE}
    if isinstance(outcome, Refusal):
        only = REFUSED_BECAUSE[operation]
        assert (response.status_code, response.json()) == (400, {"error": f"Job {before['uuid']} is {state}; {only}"})
        assert outcome.status == 400 and response.json() == outcome.body(before["uuid"], state)
        assert {k: v for k, v in after.items() if k != "@id"} == before, "a refused transition changed the job"
    else:
        assert response.status_code == outcome.trigger.status and response.content == b""
        _assert_changes(outcome, before, after)
    assert listed(admin, mock)[before["uuid"]] == {k: v for k, v in after.items() if k != "@id"}


def _assert_changes(transition: Transition, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["status"] == transition.target
    for name, change in transition.changes.items():
        if change.kind == "value":
            assert after[name] == change.value, name
        elif change.kind == "now":
            assert after[name] is not None and after[name] >= before["created"], name
    unchanged = set(before) - set(transition.changes) - {"status"}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}


@pytest.mark.parametrize("state", list(LIFECYCLE.states))
def test_delete_is_final_from_every_state(admin: requests.Session, mock: LiveMock, state: str) -> None:
    job_id = create(mock, state)["uuid"]
    response = admin.delete(f"{mock.url}/@jobs/{job_id}")
    assert (response.status_code, response.content) == (204, b"")
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/abort"), ("POST", "/retry")):
        assert admin.request(method, f"{mock.url}/@jobs/{job_id}{suffix}").status_code == 404
    assert job_id not in listed(admin, mock)


def test_worker_moves_a_job_through_its_lifecycle(admin: requests.Session, mock: LiveMock) -> None:
    job = create(
        mock, "created", params={"mock": {"delay": 2, "duration": 3, "outcome": "completed", "result": {"n": 1}}}
    )
    seen = [job["status"]]
    for _ in range(6):
        mock.control("POST", "clock/advance", {"seconds": 1})
        current = read(admin, mock, job["uuid"])
        assert_invariants(current)
        seen.append(current["status"])
    assert [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]] == ["created", "running", "completed"]
    assert current["result"] == {"n": 1}


def test_worker_fails_a_job_on_request_and_retry_runs_it_again(admin: requests.Session, mock: LiveMock) -> None:
    job = create(
        mock, "created", params={"mock": {"delay": 1, "duration": 1, "outcome": "failed", "error": "Disk full"}}
    )
    mock.control("POST", "clock/advance", {"seconds": 5})
    failed = read(admin, mock, job["uuid"])
    assert (failed["status"], failed["result"]) == ("failed", {"error": "Disk full"})
    assert admin.post(f"{mock.url}/@jobs/{job['uuid']}/retry").status_code == 204
    retried = read(admin, mock, job["uuid"])
    assert (retried["status"], retried["started"], retried["finished"], retried["result"]) == (
        "created",
        None,
        None,
        {},
    )
    mock.control("POST", "clock/advance", {"seconds": 5})
    assert read(admin, mock, job["uuid"])["status"] == "failed"


def test_transition_timestamps_are_the_due_times(admin: requests.Session, mock: LiveMock) -> None:
    job = create(mock, "created", params={"mock": {"delay": 1, "duration": 1, "outcome": "completed"}})
    mock.control("POST", "clock/advance", {"seconds": 100})
    done = read(admin, mock, job["uuid"])
    assert done["status"] == "completed"
    assert done["started"] < done["finished"] < mock.control("GET", "clock")["now"]


def test_abort_stops_the_work(admin: requests.Session, mock: LiveMock) -> None:
    job = create(mock, "running", params={"mock": {"duration": 2}})
    assert admin.post(f"{mock.url}/@jobs/{job['uuid']}/abort").status_code == 204
    mock.control("POST", "clock/advance", {"seconds": 10})
    assert read(admin, mock, job["uuid"])["status"] == "aborted"


def test_deleting_a_running_job_stops_its_work(admin: requests.Session, mock: LiveMock) -> None:
    job = create(mock, "running", params={"mock": {"duration": 1}})
    assert admin.delete(f"{mock.url}/@jobs/{job['uuid']}").status_code == 204
    mock.control("POST", "clock/advance", {"seconds": 10})
    assert job["uuid"] not in listed(admin, mock)
    assert mock.errors() == []


def test_simultaneous_aborts_of_a_running_job_succeed_once(admin: requests.Session, mock: LiveMock) -> None:
    job_id = create(mock, "running")["uuid"]
    token = admin.headers["Authorization"]
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def abort() -> None:
        barrier.wait()
        statuses.append(requests.post(f"{mock.url}/@jobs/{job_id}/abort", headers={"Authorization": token}).status_code)

    threads = [threading.Thread(target=abort) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [204] + [400] * 7
    assert read(admin, mock, job_id)["status"] == "aborted"


def test_several_worker_steps_between_two_reads_stay_consistent(admin: requests.Session, mock: LiveMock) -> None:
    jobs = [create(mock, "created", params={"mock": {"delay": i / 10, "duration": i / 5}}) for i in range(10)]
    mock.control("POST", "clock/advance", {"seconds": 1})
    for job in listed(admin, mock).values():
        assert_invariants(job)
    assert {read(admin, mock, j["uuid"])["status"] for j in jobs} <= {"created", "running", "completed", "failed"}


def test_spec_is_served(mock: LiveMock) -> None:
    yaml_text = requests.get(f"{mock.url}/openapi.yaml").text
    assert "x-job-lifecycle" in yaml_text
    spec = requests.get(f"{mock.url}/openapi.json").json()
    assert spec["paths"]["/@jobs"]["get"]["operationId"] == "getJobs"


def test_list_and_item_agree(admin: requests.Session, mock: LiveMock) -> None:
    for job_id, job in listed(admin, mock).items():
        single = read(admin, mock, job_id)
        assert {k: v for k, v in single.items() if k not in LIFECYCLE.invariants.list_ignores} == job


JSON_UTF8 = "application/json; charset=utf-8"  # as Express (and so Nick) sends every JSON answer


def test_every_json_answer_says_charset_utf_8(admin: requests.Session, mock: LiveMock) -> None:
    editor = mock.login("editor", "editor123")
    try:
        answers = {
            "list": admin.get(f"{mock.url}/@jobs"),
            "job": admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}"),
            "head": admin.head(f"{mock.url}/@jobs/{DOCUMENTED_ID}"),
            "refused": admin.post(f"{mock.url}/@jobs/{DOCUMENTED_ID}/retry"),
            "unknown-job": admin.get(f"{mock.url}/@jobs/nope"),
            "unknown-path": admin.get(f"{mock.url}/@nope"),
            "anonymous": requests.get(f"{mock.url}/@jobs"),
            "forbidden": editor.get(f"{mock.url}/@jobs"),
            "login": requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}),
            "missing": requests.post(f"{mock.url}/@login", json={}),
            "renew": admin.post(f"{mock.url}/@login-renew"),
            "no-session": requests.post(f"{mock.url}/@login-renew"),
            "control": requests.get(f"{mock.url}/__mock__/jobs"),
        }
    finally:
        editor.close()
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "list": 200, "job": 200, "head": 200, "refused": 400, "unknown-job": 404, "unknown-path": 404,
        "anonymous": 401, "forbidden": 403, "login": 200, "missing": 400, "renew": 200, "no-session": 401,
        "control": 200,
    }  # fmt: skip
    assert {name: response.headers["Content-Type"] for name, response in answers.items()} == dict.fromkeys(
        answers, JSON_UTF8
    )
    deleted = admin.delete(f"{mock.url}/@jobs/{DOCUMENTED_ID}")
    assert (deleted.status_code, deleted.content) == (204, b"") and "Content-Type" not in deleted.headers
