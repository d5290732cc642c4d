"""jobs-proxy's memory stays bounded however long it runs (issue 27, item 11): counts exact, details the newest.

Every exchange here breaks the contract and shows jobs never seen before: what the proxy keeps of
them (journal entries, findings, jobs) stops growing at its bound, while every count stays exact
and the report says how much was let go.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import requests

from jobsproxy.config import ProxyConfig
from jobsproxy.inspector import FINDINGS_KEPT
from jobsproxy.report import report_json
from jobsproxy.testing import LiveProxy
from tests.fakejobs import make_job
from tests.rawupstream import RawUpstream, answer

EXCHANGES, JOBS_EACH = 300, 5
JOURNAL_SIZE, MAX_JOBS = 50, 100


def new_jobs() -> Callable[[], bytes]:
    """Each answer: JOBS_EACH jobs never seen before, each without its `description` (a documented_answer break)."""

    def made() -> bytes:
        jobs = [{**make_job("created"), "uuid": str(uuid.uuid4())} for _ in range(JOBS_EACH)]
        for job in jobs:
            job.pop("description")
        return answer(200, jobs)

    return made


def test_violations_and_jobs_beyond_the_bounds__counted_exactly_kept_the_newest() -> None:
    config = ProxyConfig("", journal_size=JOURNAL_SIZE, max_jobs=MAX_JOBS)
    with RawUpstream({"/@jobs": new_jobs()}) as upstream, LiveProxy(upstream.url, config=config) as proxy:
        with requests.Session() as client:
            for _ in range(EXCHANGES):
                assert client.get(f"{proxy.url}/@jobs", headers={"Authorization": "Bearer t"}).status_code == 200
        report = proxy.report()
        tracked = len(proxy.proxy.inspector.tracker.jobs)
    findings = [result.findings for result in report.results if result.findings]

    assert report.violations == EXCHANGES and report.exchanges == EXCHANGES, "the counts are exact"
    assert len(report.journal) == JOURNAL_SIZE
    assert [entry["seq"] for entry in report.journal] == list(range(EXCHANGES - JOURNAL_SIZE + 1, EXCHANGES + 1))
    assert [len(found) for found in findings] == [FINDINGS_KEPT], "one check failed: its newest findings kept"
    assert tracked == MAX_JOBS
    assert report.forgotten == {
        "jobs": EXCHANGES * JOBS_EACH - MAX_JOBS,
        "findings": EXCHANGES - FINDINGS_KEPT,
        "journal entries": EXCHANGES - JOURNAL_SIZE,
    }
    assert f"forgotten to bound memory: {EXCHANGES * JOBS_EACH - MAX_JOBS} jobs" in report.context()
    assert json.loads(report_json(report))["forgotten"]["jobs"] == EXCHANGES * JOBS_EACH - MAX_JOBS
