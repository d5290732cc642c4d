"""Everything one mock server holds, typed and reachable from any request."""

from __future__ import annotations

import gc
import json
import zlib
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

TEMPLATES = 100  # scheduled jobs are modelled on at most this many starting jobs


@dataclass
class MockState:
    """The spec, the store and its clock, auth, compiled validators and the journal."""

    spec: Spec
    config: MockConfig
    store: JobStore
    clock: Clock
    auth: Authenticator
    validators: dict[str, OperationValidator]
    starting_jobs: bytes  # zlib-compressed JSON: 100,000 jobs in a few MB instead of a parsed list's hundreds
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

    def load(self, jobs: list[dict[str, Any]] | None = None) -> None:
        """Fill the store with the starting jobs (or `jobs`, freshly parsed) and start the schedule, if any.

        The garbage collector is paused meanwhile and the loaded jobs frozen out of its sight: a full
        collection over 100,000 new jobs would otherwise stall the next requests for half a second.
        """
        jobs = json.loads(zlib.decompress(self.starting_jobs)) if jobs is None else jobs
        now = self.clock.now_ms()
        gc.disable()
        try:
            self.store.load(jobs, now, owned=True)
            if self.config.schedule:
                self.store.schedule(self.config.schedule, jobs[:TEMPLATES], now)
        finally:
            gc.freeze()
            gc.enable()

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
