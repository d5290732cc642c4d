"""The conformance checks as pytest tests: `pytest --pyargs conformance.test_deployment --jobs-base-url URL`."""

from __future__ import annotations

import pytest

from conformance.results import CheckResult, Outcome


def test_conformance(jobs_check: CheckResult) -> None:
    """One check of the suite: passed, failed with its findings, or skipped with why it did not run."""
    if jobs_check.outcome is Outcome.NOT_EXERCISED:
        pytest.skip(f"not exercised: {jobs_check.reason}")
    details = "\n\n".join(
        "\n".join(filter(None, [finding.message, f"reproduce: {finding.curl}" if finding.curl else ""]))
        for finding in jobs_check.findings
    )
    assert jobs_check.outcome is Outcome.PASSED, f"{jobs_check.phase}: {jobs_check.title}\n{details}"
