"""The tests of schemathesis's stateless phases (examples, coverage, fuzzing), one per phase and operation.

Collected only by the `pytest.main` the schema phase runs (`conformance.phases.schemathesis_run`),
never by a test suite of its own: importing it binds the run in progress, whose schemas
`schema.parametrize()` the tests (schemathesis's documented pytest integration).
"""

from __future__ import annotations

from conformance.phases import schemathesis_run

globals().update(schemathesis_run.current().stateless_tests())
