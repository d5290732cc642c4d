"""The check catalogue describes every check the suite registers and every one the proxy judges by."""

from __future__ import annotations

import pytest

from conformance.phases import PHASES, schemathesis_checks
from conformance.phases.schema import PHASE as SCHEMA
from jobspec import load_spec
from jobsproxy import inspector, sessions, tracker
from verdicts import checks
from verdicts.catalogue import CHECKS, describe

SPEC = load_spec()


def test_every_check_of_the_suites_phases_is_described() -> None:
    names = {name for phase, entry in PHASES.items() if phase != SCHEMA for name in entry.groups(SPEC)}
    names |= set(schema_phase_checks())
    assert sorted(names - set(CHECKS)) == []


def schema_phase_checks() -> list[str]:
    """The schema phase's own checks (as docs/hooks.py finds them): made by job_checks, else the module's functions."""
    made = getattr(schemathesis_checks, "job_checks", None)
    if made is not None:
        return [check.__name__ for check in made(SPEC.lifecycle, "uuid")]
    return [
        name
        for name, function in vars(schemathesis_checks).items()
        if callable(function)
        and getattr(function, "__module__", None) == schemathesis_checks.__name__
        and not name.startswith("_")
    ]


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
