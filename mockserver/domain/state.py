"""Everything one mock server (or one of its sessions) holds: the spec, jobs, clock, tokens, faults, limits, journal."""

from __future__ import annotations

import gc
import itertools
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from jobspec import Spec
from mockserver.config import MockConfig
from mockserver.domain import documents
from mockserver.domain.auth import Authenticator
from mockserver.domain.budget import MEMORY_BUDGET_MB, Budget
from mockserver.domain.clock import Clock
from mockserver.domain.faults import Faults
from mockserver.domain.journal import Journal
from mockserver.domain.limits import Limits
from mockserver.domain.store import JobStore
from mockserver.domain.validation import OperationValidator

TEMPLATES = 100  # scheduled jobs are modelled on at most this many starting jobs


@contextmanager
def collector_paused(owns_process: bool) -> Iterator[None]:
    """While a store fills: the garbage collector paused, and the jobs frozen out of its sight after (a full
    collection over 100,000 of them would stall the next requests for half a second).

    Only where the mock owns the process (its CLI): a process the mock is embedded in (a test session
    with `LiveMock`) keeps its collector as it set it, and every cycle collectable.
    """
    if not owns_process:
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@dataclass(frozen=True)
class Template:
    """Jobs loaded once and shared by the sessions that start from them (see JobStore.share); never changed."""

    store: JobStore
    loaded_ms: int  # the time they were loaded at: a session started later sees their appointments that much later


@dataclass
class MockState:
    """The spec, the store and its clock, auth, compiled validators, faults and the journal."""

    spec: Spec
    config: MockConfig
    store: JobStore
    clock: Clock
    auth: Authenticator
    validators: dict[str, OperationValidator]
    starting_jobs: bytes  # zlib-compressed JSON: 100,000 jobs in a few MB instead of a parsed list's hundreds
    faults: Faults
    limits: Limits
    journal: Journal = field(default_factory=Journal)
    template: Template | None = None  # a session's starting jobs, shared; None: load them from `starting_jobs`
    # What clients make it keep, the mock's and every session's together (see mockserver.domain.budget).
    budget: Budget = field(default_factory=lambda: Budget(MEMORY_BUDGET_MB * 2**20))

    def catch_up(self) -> int:
        """Let the worker do what has come due by now (unless it is frozen); return the mock time."""
        now = self.clock.now_ms()
        if not self.config.frozen:
            self.store.advance(now)
        return now

    def load(self, fill: bool = True) -> None:
        """Fill the store with the starting jobs (unless not to `fill` it: a state file will) and start the schedule.

        The jobs are decoded one at a time, so that what the store keeps is not scattered among the
        remains of a whole parsed document (100,000 jobs: 140 MB resident instead of 280 MB). See
        `collector_paused` for the garbage collector meanwhile.
        """
        if self.template is not None:
            self.store.share(self.template.store, self.clock.now_ms() - self.template.loaded_ms)
            return
        text = zlib.decompress(self.starting_jobs).decode()
        now = self.clock.now_ms()
        with collector_paused(self.config.owns_process):
            self.store.load(documents.array(text) if fill else (), now)
            if self.config.schedule:
                self.store.schedule(self.config.schedule, itertools.islice(documents.array(text), TEMPLATES), now)

    def new_template(self, jobs: Iterable[Mapping[str, Any]] | None = None) -> Template:
        """`jobs` (default: the starting jobs, and the schedule) loaded into a store of their own, to be shared."""
        store = JobStore(self.spec.lifecycle, seed=self.config.seed, speed=self.config.speed, budget=self.budget)
        now = self.clock.now_ms()  # the server's time (a manual clock's too): sessions start from it
        if jobs is not None:
            store.load(jobs, now, client=True)  # a session's own jobs, from its client
            return Template(store, now)
        text = zlib.decompress(self.starting_jobs).decode()
        store.load(documents.array(text), now)
        if self.config.schedule:
            store.schedule(self.config.schedule, itertools.islice(documents.array(text), TEMPLATES), now)
        return Template(store, now)

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
        self.limits.clear()
        self.arm_faults()
        self.journal.clear()
