"""The suite's phases, registered in the order they run: name -> what it runs and which checks it has.

The lifecycle runs before schemathesis: with `--fixtures none --allow-destructive`, the stateful
phase would otherwise have deleted the existing jobs the lifecycle cells need.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from conformance.options import PHASE_NAMES, Options
from conformance.phases import auth, lifecycle, schema
from conformance.target import Progress, Target
from jobspec import Spec


@dataclass(frozen=True)
class Phase:
    """A phase: its run function, and the groups its results fall in (check names, or operations)."""

    run: Callable[[Target, Progress], None]
    groups: Callable[[Spec], tuple[str, ...]]
    planned: Callable[[Spec, Options], Counter[str]]  # about the requests it sends to each operation (rate limits)
    needs_jobs_api: bool = True  # False: it also runs against a deployment without one (stock Nick)
    prepare: Callable[[Options], None] = lambda _: None  # called once the run has connected, before any phase


PHASES: dict[str, Phase] = {
    auth.PHASE: Phase(auth.run, auth.groups, auth.planned, needs_jobs_api=False),
    lifecycle.PHASE: Phase(lifecycle.run, lifecycle.groups, lifecycle.planned),
    schema.PHASE: Phase(schema.run, schema.groups, schema.planned, prepare=schema.prepare),
}
if tuple(PHASES) != PHASE_NAMES:  # what `--phases` is validated against, without importing this registry
    raise RuntimeError(f"conformance.options.PHASE_NAMES {PHASE_NAMES} must name the registered phases {tuple(PHASES)}")
