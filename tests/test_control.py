"""The control API: jobs in any state, moves, reset, clock, journal, faults, token and off switch."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import pytest
import requests
import yaml
from openapi_spec_validator import validate

from jobspec.timestamps import parse_timestamp
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import LIFECYCLE, assert_invariants, create, listed, read


@pytest.mark.parametrize("state", list(LIFECYCLE.states))
def test_create_fills_a_consistent_job_in_any_state(admin: requests.Session, mock: LiveMock, state: str) -> None:
    job = create(mock, state, title="Made by a test")
    assert job["status"] == state and job["title"] == "Made by a test"
    assert_invariants(job)
    assert read(admin, mock, job["uuid"])["status"] == state
    if state == "failed":
        assert "error" in job["result"]


def test_create_keeps_what_the_caller_gives(mock: LiveMock) -> None:
    fields = {
        "uuid": "11111111-2222-4333-8444-555555555555",
        "title": "T",
        "description": "D",
        "params": {"a": [1]},
        "actor": "editor",
        "created": "2024-01-01T00:00:00.000Z",
        "started": "2024-01-01T00:00:01.000Z",
        "finished": "2024-01-01T00:00:02.500Z",
        "status": "completed",
        "result": {"ok": True},
    }
    assert mock.control("POST", "jobs", fields) == fields


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        pytest.param({"status": "paused"}, "is not one of", id="unknown-status"),
        pytest.param({"title": 5}, "is not of type", id="wrong-type"),
        pytest.param(
            {"status": "created", "started": "2024-01-01T00:00:00.000Z"},
            'Received `started`: "2024-01-01T00:00:00.000Z" with status created / Documented: null in created',
            id="created-with-started",
        ),
        pytest.param(
            {"status": "completed", "created": "2024-01-02T00:00:00.000Z", "started": "2024-01-01T00:00:00.000Z"},
            'Received `created` "2024-01-02T00:00:00.000Z" after `started` "2024-01-01T00:00:00.000Z"',
            id="out-of-order",
        ),
        pytest.param({"uuid": DOCUMENTED_ID}, "already exists", id="duplicate-uuid"),
        pytest.param({"created": "yesterday"}, "date-time", id="bad-timestamp"),
    ],
)
def test_create_refuses_inconsistent_jobs(
    admin: requests.Session, mock: LiveMock, fields: dict[str, object], needle: str
) -> None:
    before = listed(admin, mock)
    response = requests.post(f"{mock.url}/__mock__/jobs", json=fields)
    assert response.status_code == 400
    assert needle in response.json()["error"]["message"]
    assert listed(admin, mock) == before


@pytest.mark.parametrize("target", list(LIFECYCLE.states))
def test_move_puts_a_job_in_any_state(admin: requests.Session, mock: LiveMock, target: str) -> None:
    for source in LIFECYCLE.states:
        job = create(mock, source)
        moved = mock.control("POST", f"jobs/{job['uuid']}/move", {"status": target})
        assert moved["status"] == target
        assert_invariants(read(admin, mock, job["uuid"]))


def test_move_of_an_unknown_job_is_404(mock: LiveMock) -> None:
    response = requests.post(f"{mock.url}/__mock__/jobs/nope/move", json={"status": "running"})
    assert response.status_code == 404


def test_reset_restores_the_starting_data(admin: requests.Session, mock: LiveMock) -> None:
    before = listed(admin, mock)
    admin.delete(f"{mock.url}/@jobs/{DOCUMENTED_ID}")
    create(mock, "running")
    mock.control("POST", "reset")
    assert listed(admin, mock) == before


def test_clock_advance_moves_time_and_refuses_going_back(mock: LiveMock) -> None:
    start = mock.control("GET", "clock")["now"]
    later = mock.control("POST", "clock/advance", {"seconds": 3600})["now"]
    assert later > start
    response = requests.post(f"{mock.url}/__mock__/clock/advance", json={"seconds": -1})
    assert response.status_code == 400


def test_journal_records_every_answer(admin: requests.Session, mock: LiveMock) -> None:
    admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}")
    admin.post(f"{mock.url}/@jobs/{DOCUMENTED_ID}/abort")
    entries = mock.control("GET", "journal")
    jobs_entries = [
        (e["operationId"], e["status"], e["jobId"]) for e in entries if e["operationId"] not in (None, "login")
    ]
    assert jobs_entries == [("getJob", 200, DOCUMENTED_ID), ("abortJob", 400, DOCUMENTED_ID)]
    last = entries[-1]["seq"]
    newer = mock.control("GET", f"journal?since={last}")
    assert [(e["method"], e["path"]) for e in newer] == [("GET", "/__mock__/journal")]


def test_control_document_is_valid_openapi(mock: LiveMock) -> None:
    validate(yaml.safe_load(requests.get(f"{mock.url}/__mock__/openapi.yaml").text))


def test_control_token_guards_the_control_api() -> None:
    config = MockConfig(control_token="s3cret")
    with LiveMock(config=config, clock=Clock(manual=True)) as server:
        url, json_type = f"{server.url}/__mock__/reset", {"Content-Type": "application/json"}
        assert requests.post(url, headers=json_type).status_code == 401
        assert requests.post(url, headers={**json_type, "X-Mock-Token": "wrong"}).status_code == 401
        assert requests.post(url, headers={**json_type, "X-Mock-Token": "s3cret"}).status_code == 204


def test_control_can_be_switched_off() -> None:
    with LiveMock(config=MockConfig(control=False)) as server:
        response = requests.post(f"{server.url}/__mock__/jobs", json={})
        assert response.status_code == 404
        with pytest.raises(urllib.error.HTTPError):
            server.control("GET", "journal")


def test_frozen_worker_moves_only_when_the_clock_is_advanced() -> None:
    config = MockConfig(frozen=True)
    with LiveMock(config=config) as server:
        job = server.control("POST", "jobs", {"params": {"mock": {"delay": 0, "duration": 0, "outcome": "completed"}}})
        token = requests.post(f"{server.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{server.url}/@jobs/{job['uuid']}", headers=headers).json()["status"] == "created"
        server.control("POST", "clock/advance", {"seconds": 1})
        assert requests.get(f"{server.url}/@jobs/{job['uuid']}", headers=headers).json()["status"] == "completed"


def test_changes_read_at_once_or_one_by_one_read_the_same() -> None:
    """A transition is written into a job's JSON when the job is next read: jobs read after every move of the
    worker's and every change of a client's, or only at the end, read the same, byte for byte (every field in
    its place), alone and in the list."""
    one_by_one, at_once = _changes(look=True), _changes(look=False)
    assert one_by_one == at_once
    jobs = [json.loads(body) for body in at_once[0][:3]]
    assert [job["status"] for job in jobs] == ["completed", "aborted", "created"]
    assert list(jobs[1]) == list(jobs[0])  # the fields in the order every job has them
    for job in jobs:
        assert_invariants(job)


def _changes(look: bool) -> tuple[list[bytes], bytes]:
    """Four jobs moved by the worker and by a client (read after each step when told to `look`): each job's answer
    and the list's, as bytes."""
    outcomes = ["completed", "failed", "failed", "completed"]
    clock = Clock(manual=True, start=1_767_225_600.0)  # 2026-01-01: the same times in every run
    with LiveMock(config=MockConfig(seed=9, data=None), clock=clock) as server:
        admin = server.admin
        ids = [
            server.control(
                "POST", "jobs", {"title": f"job {i}", "params": {"mock": {"delay": 1, "duration": 2 + i, "outcome": o}}}
            )["uuid"]
            for i, o in enumerate(outcomes)
        ]
        steps: list[tuple[str, str] | None] = [None] * 6  # created -> running -> completed or failed, a second each
        steps += [("retry", ids[1]), None, ("abort", ids[1]), ("retry", ids[2])]  # None: a second goes by
        for step in steps:
            if step is None:
                server.control("POST", "clock/advance", {"seconds": 1})
            else:
                assert admin.post(f"{server.url}/@jobs/{step[1]}/{step[0]}").status_code == 204
            if look:
                for job_id in ids:
                    read(admin, server, job_id)
                listed(admin, server)
        assert admin.delete(f"{server.url}/@jobs/{ids[3]}").status_code == 204
        url = server.url.encode()  # on a port of its own each time
        jobs = [admin.get(f"{server.url}/@jobs/{job_id}").content.replace(url, b"URL") for job_id in ids]
        return jobs, admin.get(f"{server.url}/@jobs").content


def test_seed_makes_ids_deterministic() -> None:
    ids = []
    for _ in range(2):
        with LiveMock(config=MockConfig(seed=42), clock=Clock(manual=True)) as server:
            ids.append([server.control("POST", "jobs", {})["uuid"] for _ in range(3)])
    assert ids[0] == ids[1] and len(set(ids[0])) == 3


def test_schedule_creates_jobs_as_time_passes() -> None:
    with LiveMock(config=MockConfig(schedule=10, seed=3), clock=Clock(manual=True)) as server:
        token = requests.post(f"{server.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        before = requests.get(f"{server.url}/@jobs", headers=headers).json()
        server.control("POST", "clock/advance", {"seconds": 35})
        after = requests.get(f"{server.url}/@jobs", headers=headers).json()
        new = after[len(before) :]
        assert len(new) == 3
        assert all(job["title"] in {j["title"] for j in before} for job in new)
        assert [job["created"] for job in new] == sorted(job["created"] for job in new)
        for job in new:
            assert_invariants(job)


def test_default_outcomes_and_timings_vary_but_repeat_under_a_seed() -> None:
    runs = []
    for _ in range(2):
        with LiveMock(config=MockConfig(seed=5, data=None), clock=Clock(manual=True)) as server:
            ids = [server.control("POST", "jobs", {"title": f"job {i}"})["uuid"] for i in range(40)]
            server.control("POST", "clock/advance", {"seconds": 120})
            token = requests.post(f"{server.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
            jobs = requests.get(f"{server.url}/@jobs", headers={"Authorization": f"Bearer {token}"}).json()
            by_id = {job["uuid"]: job for job in jobs}
            runs.append(
                [(by_id[i]["status"], _seconds(by_id[i], "started"), _seconds(by_id[i], "finished")) for i in ids]
            )
    assert runs[0] == runs[1]
    assert {status for status, _, _ in runs[0]} == {"completed", "failed"}
    assert len({duration for _, _, duration in runs[0]}) > 30


def _seconds(job: dict[str, str], field: str) -> float:
    """Seconds from the job's creation to `field`."""
    return round(parse_timestamp(job[field]) - parse_timestamp(job["created"]), 3)


def _jobs_status(url: str, token: str) -> int:
    return requests.get(f"{url}/@jobs", headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.mark.parametrize(
    ("body", "login", "jobs_status"),
    [
        pytest.param({"manageJobs": False}, "editor", 403, id="may-not-manage-jobs"),
        pytest.param({"manageJobs": True}, "admin", 200, id="may-manage-jobs"),
        pytest.param({"login": "editor"}, "editor", 403, id="by-login"),
        pytest.param({"login": "admin", "manageJobs": True}, "admin", 200, id="both"),
    ],
)
def test_tokens_hands_out_a_working_token_for_an_existing_user(
    mock: LiveMock, body: dict[str, object], login: str, jobs_status: int
) -> None:
    response = requests.post(f"{mock.url}/__mock__/tokens", json=body)
    assert response.status_code == 201 and response.headers["Content-Type"] == "application/json; charset=utf-8"
    answer = response.json()
    assert set(answer) == {"login", "token"} and answer["login"] == login
    assert _jobs_status(mock.url, answer["token"]) == jobs_status


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"login": "nobody"}, "No user 'nobody'.", id="unknown-login"),
        pytest.param(
            {"login": "admin", "manageJobs": False}, "No user 'admin' who may not manage jobs.", id="mismatch"
        ),
    ],
)
def test_tokens_for_no_such_user_is_404_in_nicks_shape(mock: LiveMock, body: dict[str, object], message: str) -> None:
    response = requests.post(f"{mock.url}/__mock__/tokens", json=body)
    assert response.status_code == 404
    assert response.json() == {"error": {"type": "Not found", "message": message}}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"login": ""}, id="empty-login"),
        pytest.param({"login": 5}, id="login-not-a-string"),
        pytest.param({"manageJobs": "no"}, id="flag-not-a-boolean"),
        pytest.param({"login": "admin", "password": "admin"}, id="unknown-field"),
        pytest.param([], id="not-an-object"),
    ],
)
def test_tokens_refuses_a_malformed_body(mock: LiveMock, body: object) -> None:
    response = requests.post(f"{mock.url}/__mock__/tokens", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("body: expected")


def test_tokens_without_a_user_who_may_not_manage_jobs_is_a_clear_404(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("- {login: ops, password: pw, manageJobs: true}\n")
    with LiveMock(config=MockConfig(users=users, control_token="t"), clock=Clock(manual=True)) as server:
        url = f"{server.url}/__mock__/tokens"
        assert requests.post(url, json={"manageJobs": False}).status_code == 401
        response = requests.post(url, json={"manageJobs": False}, headers={"X-Mock-Token": "t"})
        assert response.status_code == 404
        assert response.json()["error"] == {
            "type": "Not found",
            "message": "No user who may not manage jobs: the users file (--users) has none with manageJobs: false.",
        }
        assert server.control("POST", "tokens", {"manageJobs": True})["login"] == "ops"


def test_control_document_takes_states_and_job_fields_from_the_served_spec(mock: LiveMock) -> None:
    document = yaml.safe_load(requests.get(f"{mock.url}/__mock__/openapi.yaml").text)
    schemas = document["components"]["schemas"]
    field = LIFECYCLE.status_field
    assert schemas["State"]["enum"] == list(LIFECYCLE.states)
    assert schemas["Move"]["required"] == [field]
    assert schemas["Move"]["properties"][field] == schemas["NewJob"]["properties"][field]
    assert set(schemas["NewJob"]["properties"]) == set(mock.state.spec.schema("Job")["properties"])
    assert schemas["NewJob"]["required"] == []


JSON_TYPE = {"Content-Type": "application/json"}
HUGE_OR_BROKEN_JOBS = [
    pytest.param(b'{"params": {"mock": {"delay": 1e306}}}', "params/mock/delay: 1e+306 is greater than the maximum", id="delay-1e306"),
    pytest.param(b'{"params": {"mock": {"duration": 1e306}}}', "params/mock/duration: 1e+306 is greater", id="duration-1e306"),
    pytest.param(b'{"params": {"mock": {"delay": -5}}}', "params/mock/delay: -5 is less than the minimum of 0", id="negative-delay"),
    pytest.param(b'{"params": {"mock": {"delay": "5"}}}', 'params/mock/delay: "5" is not of type', id="delay-as-text"),
    pytest.param(b'{"params": {"mock": {"delay": NaN}}}', "body.params.mock.delay: not a finite number", id="nan"),
    pytest.param(b'{"params": {"x": Infinity}}', "body.params.x: not a finite number", id="infinity"),
    pytest.param(b'{"params": {"x": [1, 1e400]}}', "body.params.x[1]: not a finite number", id="1e400"),
    pytest.param(b'{"params": {"x": ' + b"[" * 80 + b"]" * 80 + b"}}", "nested deeper than 64 levels", id="deep"),
    pytest.param(b'{"params": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}", "nested deeper than 64 levels", id="very-deep"),
    pytest.param(b'{"params": {"x": 1' + b"0" * 5000 + b"}}", "not valid JSON", id="5000-digits"),
    pytest.param(b'{"created": "0999-01-01T00:00:00.000Z"}', "outside the times a job can carry", id="year-999"),
    pytest.param(b'{"params": {"mock": {"outcome": "done"}}}', 'params/mock/outcome: "done" is not one of', id="outcome"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "needle"), HUGE_OR_BROKEN_JOBS)
def test_create_refuses_what_the_mock_could_not_run_or_save(
    admin: requests.Session, mock: LiveMock, body: bytes, needle: str
) -> None:
    before = listed(admin, mock)
    response = requests.post(f"{mock.url}/__mock__/jobs", data=body, headers=JSON_TYPE)
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]["message"]
    assert listed(admin, mock) == before


def test_after_every_refused_number_the_mock_still_saves_and_restarts(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    config = MockConfig(state_file=state_file)
    with LiveMock(config=config, clock=Clock(manual=True)) as server:
        for param in HUGE_OR_BROKEN_JOBS:
            requests.post(f"{server.url}/__mock__/jobs", data=param.values[0], headers=JSON_TYPE)
        for raw in (b'{"seconds": 1e306}', b'{"seconds": NaN}', b'{"seconds": 1e9}', b'{"seconds": 1e9}'):
            requests.post(f"{server.url}/__mock__/clock/advance", data=raw, headers=JSON_TYPE)
        server.control("POST", "jobs", {"title": "After the attack"})
        jobs = server.control("GET", "jobs")
    with LiveMock(config=config, clock=Clock(manual=True)) as again:
        assert again.control("GET", "jobs") == jobs


@pytest.mark.parametrize(
    "body",
    [b'{"seconds": NaN}', b'{"seconds": Infinity}', b'{"seconds": 1e400}', b'{"seconds": 1e306}', b'{"seconds": -1}',
     b'{"seconds": "60"}', b'{"seconds": true}', b'{"seconds": null}', b"{}", b"[60]"],
)  # fmt: skip
def test_clock_advance_refuses_what_is_no_wait(mock: LiveMock, body: bytes) -> None:
    before = mock.control("GET", "clock")["now"]
    response = requests.post(f"{mock.url}/__mock__/clock/advance", data=body, headers=JSON_TYPE)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(("seconds:", "body"))
    assert mock.control("GET", "clock")["now"] == before


def test_the_clock_never_passes_the_year_9999(admin: requests.Session, mock: LiveMock) -> None:
    refused = None
    for _ in range(300):
        response = requests.post(f"{mock.url}/__mock__/clock/advance", json={"seconds": 10**9})
        if response.status_code != 200:
            refused = response
            break
    assert refused is not None and refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert "the clock would pass 9999-12-31T23:59:59.999Z" in message
    room = float(message.rsplit("advance ", 1)[1].split(" s")[0])
    assert mock.control("POST", "clock/advance", {"seconds": room})["now"].startswith("9999-12-31T23:59:59.99")
    assert requests.post(f"{mock.url}/__mock__/clock/advance", json={"seconds": 1}).status_code == 400
    jobs = listed(admin, mock)
    assert all(
        len(value) == 24 for j in jobs.values() for value in (j["created"], j["started"], j["finished"]) if value
    )
    for job in jobs.values():
        assert_invariants(job)
    assert create(mock, "completed")["finished"].startswith("9999-12-31T23:59:59.99")
