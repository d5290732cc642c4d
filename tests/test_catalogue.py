"""The check catalogue describes every check the suite registers and every one the proxy judges by."""

from __future__ import annotations

import pytest

from conformance.phases import PHASES
from conformance.phases.schema import PHASE as SCHEMA
from conformance.phases.schemathesis_checks import job_checks
from jobspec import load_spec
from jobsproxy import inspector, sessions, tracker
from verdicts import checks
from verdicts.catalogue import CHECKS, describe

SPEC = load_spec()


def test_every_check_of_the_suites_phases_is_described() -> None:
    names = {name for phase, entry in PHASES.items() if phase != SCHEMA for name in entry.groups(SPEC)}
    names |= {check.__name__ for check in job_checks(SPEC.lifecycle, "uuid")}  # the schema phase's own
    assert sorted(names - set(CHECKS)) == []


def test_every_check_of_the_proxy_is_described() -> None:
    # The proxy's answer checks are a set of its own; the lifecycle's are those it judges jobs across traffic by.
    lifecycle = {
        tracker.JOB_FOLLOWS,
        tracker.NEVER_BACK,
        checks.IMMUTABLE_FIELDS,
        checks.TRANSITION_ANSWER,
        checks.TRANSITION_RESULT,
        checks.REFUSAL_ANSWER,
        checks.DELETION_FINAL,
        checks.STATE_FIELDS,
        checks.TIMESTAMPS_ORDERED,
    }
    names = set(inspector.ANSWER_CHECKS) | lifecycle | {inspector.MALFORMED_REFUSED, sessions.TOKEN_WORKS}
    assert sorted(names - set(CHECKS)) == []


def test_describe__names_a_check_without_a_sentence() -> None:
    with pytest.raises(KeyError, match="no_such_check"):
        describe("no_such_check")
