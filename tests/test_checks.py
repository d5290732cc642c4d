"""The suite's schemathesis checks: the lifecycle they judge by."""

from __future__ import annotations

from conformance import checks
from jobspec import load_spec


def test_lifecycle_of__reads_a_schema_once_and_none_without_the_extension() -> None:
    raw = load_spec().raw
    assert checks.lifecycle_of(raw) is checks.lifecycle_of(raw)
    assert checks.lifecycle_of({"openapi": "3.1.0"}) is None
