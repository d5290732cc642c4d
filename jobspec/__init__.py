"""The Nick jobs API spec, loaded once and shared by the mock server and the conformance suite."""

from jobspec.invariants import InconsistentJob
from jobspec.lifecycle import (
    Change,
    Lifecycle,
    LifecycleError,
    Refusal,
    Removal,
    StateRule,
    Transition,
    Trigger,
    WorkerStep,
)
from jobspec.loader import Operation, Spec, SpecError, load_spec

__all__ = [
    "Change",
    "InconsistentJob",
    "Lifecycle",
    "LifecycleError",
    "Operation",
    "Refusal",
    "Removal",
    "Spec",
    "SpecError",
    "StateRule",
    "Transition",
    "Trigger",
    "WorkerStep",
    "load_spec",
]
