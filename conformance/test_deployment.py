"""The conformance checks as pytest tests: `pytest --pyargs conformance.test_deployment --jobs-base-url URL`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.plugin import judge
from conformance.runner import Run


def test_conformance(
    jobs_run: Run,
    jobs_check: tuple[str, str],
    request: pytest.FixtureRequest,
    record_xml_attribute: Callable[[str, object], None],
) -> None:
    """One check of the suite over all its subjects, or its coverage gate: failed with its findings, skipped with why
    it did not run."""
    judge(jobs_run, jobs_check, request.node, record_xml_attribute)
