"""The coverage matrix: the lifecycle's states against the operations that act on a job, and the worker."""

from __future__ import annotations

from jobspec import Lifecycle, Spec

WORKER = "worker"  # the matrix's column for the transitions the worker makes on its own


def columns(lifecycle: Lifecycle) -> tuple[str, ...]:
    """The matrix's columns: the client's operations on a job, its removal, and the worker."""
    return (*lifecycle.client_operations(), lifecycle.removal.operation, WORKER)


def expected_cells(spec: Spec) -> tuple[tuple[str, str], ...]:
    """Every (state, column) of the coverage matrix that has something to exercise."""
    lifecycle = spec.lifecycle
    cells = [(state, op) for op in lifecycle.client_operations() for state in lifecycle.states]
    cells += [(state, lifecycle.removal.operation) for state in lifecycle.removal.states]
    cells += [(t.source, WORKER) for t in lifecycle.transitions if t.trigger.is_worker]
    return tuple(dict.fromkeys(cells))
