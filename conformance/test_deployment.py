"""The conformance checks as pytest tests: `pytest --pyargs conformance.test_deployment --jobs-base-url URL`."""

from __future__ import annotations

import pytest

from conformance.plugin import results_of
from conformance.runner import Run
from verdicts.results import Outcome


def test_conformance(jobs_run: Run, jobs_check: tuple[str, str]) -> None:
    """One check of the suite over all its subjects: failed with its findings, skipped with why it did not run."""
    phase, group = jobs_check
    results = results_of(jobs_run, phase, group)
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    details = "\n\n".join(
        f"{r.phase}: {r.title}\n"
        + "\n".join(filter(None, [f.message + (f"\nreproduce: {f.curl}" if f.curl else "") for f in r.findings]))
        for r in failed
    )
    assert not failed, details
    if results and all(r.outcome is Outcome.NOT_EXERCISED for r in results):
        reasons = sorted({r.reason for r in results})
        pytest.skip(f"not exercised: {'; '.join(reasons)}")
