"""Everything one mock server holds, typed and reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from jobspec import Spec
from mockserver.auth import Authenticator
from mockserver.clock import Clock
from mockserver.config import MockConfig
from mockserver.faults import Faults
from mockserver.journal import Journal
from mockserver.store import JobStore
from mockserver.validation import OperationValidator, ReferenceValidator


@dataclass
class MockState:
    """The spec, the store and its clock, auth, compiled validators and the journal."""

    spec: Spec
    config: MockConfig
    store: JobStore
    clock: Clock
    auth: Authenticator
    validators: dict[str, OperationValidator]
    starting_jobs: list[dict[str, Any]]
    reference: ReferenceValidator | None = None
    faults: Faults = field(default_factory=lambda: Faults(frozenset()))
    journal: Journal = field(default_factory=Journal)
    operations: dict[tuple[str, str], str] = field(default_factory=dict)

    def now_ms(self) -> int:
        """The mock time, after letting the worker catch up to it."""
        now = self.clock.now_ms()
        if not self.config.frozen:
            self.store.advance(now)
        return now

    def load(self) -> None:
        """Fill the store with the starting jobs and start the schedule, if any."""
        now = self.clock.now_ms()
        self.store.load(self.starting_jobs, now)
        if self.config.schedule:
            self.store.schedule(self.config.schedule, self.starting_jobs, now)

    def arm_faults(self) -> None:
        """Only the faults the configuration starts with (the CLI's --latency and --fault)."""
        self.faults.clear()
        for fault in self.config.faults:
            self.faults.add(fault)

    def reset(self) -> None:
        """Back to the starting data, clock, tokens and faults, and an empty journal."""
        self.clock.reset()
        self.load()
        self.auth.reset()
        self.arm_faults()
        self.journal.clear()


STATE = web.AppKey("state", MockState)
