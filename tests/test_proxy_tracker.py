"""The proxy's judgement of a job's history, and the order it judges exchanges in, on hand-made sightings."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from jobspec import load_spec
from jobspec.invariants import job_in_state
from jobspec.timestamps import as_ms
from jobsproxy.exchange import Capture, Exchange
from jobsproxy.sequencer import Sequencer
from jobsproxy.tracker import JobTracker, Span, Verdict

LIFECYCLE = load_spec().lifecycle
ID = "a2fe7e07-d54b-435b-9cb0-e12f1f80a589"
OTHER = "7d4c5c1e-0b8e-4f6a-9d7e-2f1c3b4a5d6e"
BASE = {
    "uuid": ID,
    "title": "t",
    "description": "",
    "params": {},
    "actor": "admin",
    "created": "2026-01-01T00:00:00.000Z",
}


def job(state: str, **fields: Any) -> dict[str, Any]:
    return {**job_in_state(LIFECYCLE, state, BASE, as_ms("2026-01-01T00:00:10.000Z") or 0), **fields}


def failed(verdicts: list[Verdict]) -> list[tuple[str, str]]:
    return [(v.check, v.problems[0]) for v in verdicts if v.problems]


def at(sent: float, answered: float | None = None) -> Span:
    return Span(sent, sent + 0.5 if answered is None else answered)


def test_worker_moves__any_chain_of_them_passes_and_covers_the_cell() -> None:
    tracker = JobTracker(LIFECYCLE)
    assert tracker.observe(ID, job("created"), at(0)) == []
    verdicts = tracker.observe(ID, job("completed"), at(1))
    assert failed(verdicts) == []
    assert ("created", "worker") in [v.cell for v in verdicts]


@pytest.mark.parametrize(
    ("first", "then", "shared", "check"),
    [
        pytest.param("completed", "running", False, "job_follows_lifecycle", id="terminal-back-to-running"),
        pytest.param("failed", "running", False, "job_follows_lifecycle", id="failed-runs-again-unasked"),
        pytest.param("failed", "running", True, None, id="failed-runs-again-shared-a-retry-elsewhere"),
        pytest.param("aborted", "created", True, "job_follows_lifecycle", id="aborted-back-even-shared"),
    ],
)
def test_sightings__a_move_no_transition_allows_is_named(
    first: str, then: str, shared: bool, check: str | None
) -> None:
    tracker = JobTracker(LIFECYCLE, shared=shared)
    tracker.observe(ID, job(first), at(0))
    found = failed(tracker.observe(ID, job(then), at(1)))
    assert [c for c, _ in found] == ([check] if check else [])
    if check:
        assert f"Received job {ID} {then}, last seen {first}" in found[0][1]


def test_sightings__after_a_wrong_move_the_job_is_judged_from_where_it_was_seen() -> None:
    tracker = JobTracker(LIFECYCLE)
    tracker.observe(ID, job("completed"), at(0))
    assert len(failed(tracker.observe(ID, job("running"), at(1)))) == 1
    assert failed(tracker.observe(ID, job("running"), at(2))) == [], "one break, one violation"


def test_sightings__immutable_fields_and_timestamps_that_go_back() -> None:
    tracker = JobTracker(LIFECYCLE)
    tracker.observe(ID, job("running", started="2026-01-01T00:00:05.000Z"), at(0))
    found = failed(tracker.observe(ID, job("running", title="other", started="2026-01-01T00:00:04.000Z"), at(1)))
    assert [c for c, _ in found] == ["job_immutable_fields", "timestamps_never_go_back"]


def test_answers__a_204_abort_of_a_job_seen_completed_is_named_and_the_server_believed() -> None:
    tracker = JobTracker(LIFECYCLE)
    tracker.observe(ID, job("completed"), at(0))
    verdicts = tracker.act(ID, "abortJob", 204, at(1))
    assert failed(verdicts) == [
        ("refusal_answer", f"Received 204 for abortJob on job {ID}, last seen completed / Documented: 400 in completed")
    ]
    assert verdicts[0].cell == ("completed", "abortJob")
    assert failed(tracker.observe(ID, job("aborted"), at(2))) == []


def test_answers__a_refusal_is_a_400_and_the_job_stays_as_it_was() -> None:
    tracker = JobTracker(LIFECYCLE)
    tracker.observe(ID, job("completed"), at(0))
    verdicts = tracker.act(ID, "retryJob", 400, at(1))
    assert failed(verdicts) == [] and verdicts[0].cell == ("completed", "retryJob")
    assert failed(tracker.observe(ID, job("completed"), at(2))) == []
    assert tracker.act(ID, "retryJob", 409, at(3)) == [], "no lifecycle outcome: documented_answer names a 409"
    tracker.observe(OTHER, job("failed"), at(4))
    found = failed(tracker.act(OTHER, "retryJob", 400, at(5)))
    assert found == [
        ("transition_answer", f"Received 400 for retryJob on job {OTHER}, last seen failed / Documented: 204 in failed")
    ]


def test_answers__a_204_followed_by_a_state_its_transition_does_not_lead_to() -> None:
    tracker = JobTracker(LIFECYCLE)
    tracker.observe(ID, job("running"), at(0))
    assert failed(tracker.act(ID, "abortJob", 204, at(1))) == []
    found = failed(tracker.observe(ID, job("running"), at(2)))
    assert found == [
        (
            "transition_result",
            f"Received job {ID} running after abortJob answered 204 (running -> aborted) / Documented: aborted",
        )
    ]


def test_answers__a_proper_retry_is_checked_field_by_field() -> None:
    tracker = JobTracker(LIFECYCLE)
    tracker.observe(ID, job("failed", result={"error": "x"}), at(0))
    tracker.act(ID, "retryJob", 204, at(1))
    kept = job("failed", result={"error": "x"}) | {"status": "created"}
    found = failed(tracker.observe(ID, kept, at(2)))
    assert [c for c, _ in found] == ["transition_result"] and "`started`" in found[0][1]


def test_deletion__a_job_seen_again_or_acted_on_afterwards_is_named() -> None:
    tracker = JobTracker(LIFECYCLE)
    tracker.observe(ID, job("running"), at(0))
    tracker.act(ID, "deleteJob", 204, at(1, 2))
    assert failed(tracker.observe(ID, job("running"), at(1.5, 3))) == [], (
        "a read that started before the 204 may show it"
    )
    assert [c for c, _ in failed(tracker.observe(ID, job("running"), at(4)))] == ["deletion_is_final"]
    assert [c for c, _ in failed(tracker.act(ID, "abortJob", 400, at(5)))] == ["deletion_is_final"], (
        "refused as if it were still there"
    )
    assert failed(tracker.act(ID, "abortJob", 404, at(6))) == []


def test_overlap__a_sighting_started_before_a_204_may_show_the_job_as_it_was() -> None:
    tracker = JobTracker(LIFECYCLE)
    tracker.observe(ID, job("running"), at(0))
    tracker.act(ID, "abortJob", 204, at(1, 2))
    assert failed(tracker.observe(ID, job("running"), at(1.5, 3))) == [], "served before the abort, answered after it"
    assert len(failed(tracker.observe(ID, job("running"), at(2.5, 3)))) == 1, "started after the 204: no excuse"


def test_overlap__a_sighting_answered_before_a_204_may_show_the_job_after_it() -> None:
    tracker = JobTracker(LIFECYCLE)
    tracker.observe(ID, job("running"), at(0))
    assert failed(tracker.observe(ID, job("aborted"), at(1, 2), ahead=[("abortJob", 204)])) == []
    assert failed(tracker.act(ID, "abortJob", 204, at(1.5, 2.5))) == [], "the abort still finds it running"
    alone = JobTracker(LIFECYCLE)
    alone.observe(ID, job("running"), at(0))
    assert len(failed(alone.observe(ID, job("aborted"), at(1, 2)))) == 1, "with no abort around it, it is a violation"


def exchange(seq: int, sent: float, answered: float) -> Exchange:
    made = Exchange(seq, "GET", "/@jobs", "/@jobs", "", "", {}, Capture(0), sent)  # type: ignore[arg-type]
    made.answered = answered
    return made


def test_sequencer__hands_on_in_answer_order_once_nothing_earlier_can_still_come() -> None:
    async def scenario() -> list[tuple[int, tuple[int, ...]]]:
        delivered: list[tuple[int, tuple[int, ...]]] = []
        sequencer = Sequencer(
            lambda e, overlapping: delivered.append((e.seq, tuple(o.seq for o in overlapping))),
            patience=60.0,
            clock=lambda: 5.0,
        )
        slow, quick, later = exchange(1, 0.0, 5.0), exchange(2, 1.0, 2.0), exchange(3, 6.0, 7.0)
        for started in (slow, quick):
            sequencer.begin(started)
        sequencer.end(quick)
        assert delivered == [], "the slow one started earlier: it may have been served first"
        sequencer.end(slow)
        assert delivered == [(2, (1,)), (1, ())]
        sequencer.begin(later)
        sequencer.end(later)
        return delivered

    assert asyncio.run(scenario())[-1] == (3, ())


def test_sequencer__an_exchange_that_never_ends_holds_the_others_back_no_longer_than_its_patience() -> None:
    """Issue 27, item 8: one request the upstream never answers must not keep every other from being judged."""

    async def scenario() -> tuple[list[int], list[int]]:
        delivered: list[int] = []
        sequencer = Sequencer(lambda e, overlapping: delivered.append(e.seq), patience=0.3)
        now = time.monotonic()
        stuck, quick = exchange(1, now, 0.0), exchange(2, now + 0.01, now + 0.02)
        sequencer.begin(stuck)
        sequencer.begin(quick)
        sequencer.end(quick)
        held = list(delivered)
        for _ in range(100):  # the timer releases it: no further exchange needs to end
            if delivered:
                break
            await asyncio.sleep(0.05)
        return held, delivered

    held, delivered = asyncio.run(scenario())
    assert held == [], "at first it waits: the stuck one may yet show what happened before"
    assert delivered == [2], "then it is judged without waiting for the stuck one"
