"""One memory budget for what clients make the mock keep (issue 27, item 3): jobs, lists and journals, the mock's
and every session's together; past it a Nick-shaped 507, a job too large a 413, journals that make room."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from jobspec import load_spec
from mockserver.config import MockConfig
from mockserver.domain.budget import MAX_JOB_BYTES, MAX_JOBS, MAX_NOTE, Budget, OutOfBudget
from mockserver.domain.store import JobStore
from mockserver.testing import LiveMock

BUDGET_MB = 8
BIG = "x" * (200 * 1024)  # a job of about 200 KB: below the size of one job, forty of them past the budget


@pytest.fixture
def mock() -> Iterator[LiveMock]:
    with LiveMock(config=MockConfig(memory_budget=BUDGET_MB, seed=1)) as live:
        yield live


def _create(url: str, title: str = "Big", description: str = BIG) -> requests.Response:
    return requests.post(f"{url}/__mock__/jobs", json={"title": title, "description": description}, timeout=30)


def _listed(url: str) -> list[str]:
    return [job["uuid"] for job in requests.get(f"{url}/__mock__/jobs", timeout=30).json()]


def test_a_job_larger_than_a_job_may_be_is_a_413_in_nicks_shape_and_changes_nothing(mock: LiveMock) -> None:
    before = _listed(mock.url)
    answer = _create(mock.url, description="x" * (MAX_JOB_BYTES + 1))
    assert answer.status_code == 413
    assert answer.json()["error"]["type"] == "Payload too large" and "256 KB" in answer.json()["error"]["message"]
    assert _listed(mock.url) == before
    session = requests.post(
        f"{mock.url}/__mock__/sessions", json={"name": "s", "jobs": [{"description": "x" * 300_000}]}
    )
    assert session.status_code == 413 and "job 0" in session.json()["error"]["message"]
    assert requests.get(f"{mock.url}/__mock__/sessions").json()["sessions"] == []


def test_past_the_budget_across_sessions_a_new_job_or_session_is_a_507_and_freeing_memory_lifts_it(
    mock: LiveMock,
) -> None:
    made = 0
    for n in range(200):
        answer = _create(f"{mock.url}/__session/s{n % 3}")
        if answer.status_code == 507:
            break
        assert answer.status_code == 201, answer.text
        made += 1
    else:
        pytest.fail("the budget was never reached")
    assert 20 <= made <= BUDGET_MB * 1024 // 200 + 1, made  # the budget is shared: three sessions, one count
    refusal = answer.json()
    assert refusal["error"]["type"] == "Insufficient storage" and "--memory-budget" in refusal["error"]["message"]
    assert _create(mock.url).status_code == 507, "the mock's own jobs count against the same budget"
    assert requests.post(f"{mock.url}/__mock__/sessions", json={"name": "fresh"}).status_code == 507
    assert len(_listed(f"{mock.url}/__session/s0")) > 1, "what is kept is still answered"
    for n in range(3):
        assert requests.delete(f"{mock.url}/__mock__/sessions/s{n}").status_code == 204
    assert _create(mock.url).status_code == 201, "deleting the sessions gave their memory back"
    assert requests.post(f"{mock.url}/__mock__/sessions", json={"name": "fresh"}).status_code == 201


def test_a_reset_gives_back_what_the_jobs_took(mock: LiveMock) -> None:
    while _create(mock.url).status_code == 201:
        pass
    assert _create(mock.url).status_code == 507
    assert requests.post(f"{mock.url}/__mock__/reset", json={}).status_code in (200, 204)
    assert _create(mock.url).status_code == 201


def test_journal_entries_are_bounded_and_make_room_past_the_budget(mock: LiveMock) -> None:
    long_path = "/@jobs/" + "a" * 8000
    requests.get(f"{mock.url}{long_path}", timeout=10)
    entries = requests.get(f"{mock.url}/__mock__/journal").json()
    assert entries and all(len(entry["path"]) <= MAX_NOTE for entry in entries)
    assert any(entry["path"].startswith("/@jobs/aaa") and entry["path"].endswith("…") for entry in entries)
    while _create(mock.url).status_code == 201:
        pass
    for _ in range(20):
        requests.get(f"{mock.url}{long_path}", timeout=10)
    answer = requests.get(f"{mock.url}/__mock__/journal")
    assert int(answer.headers["X-Mock-Dropped"]) > 0, "past the budget, the journal drops its oldest entries"


def test_a_store_takes_no_more_than_its_maximum_of_jobs_from_clients() -> None:
    spec = load_spec()
    store = JobStore(spec.lifecycle, seed=1, budget=Budget(2**40))
    store.load(({"title": f"J{n}"} for n in range(MAX_JOBS)), 0)  # the operator's data is not held to it
    with pytest.raises(OutOfBudget, match=f"maximum of {MAX_JOBS} jobs"):
        store.add({"title": "one more"}, 0, client=True)
    assert len(store.jobs) == MAX_JOBS
