"""`jobs-mock --reload`: the spec, data and users files watched, an edit served without a restart.

Every `WATCH_EVERY` seconds the files' modification times and sizes are compared (polling: no new
dependency, and it works on every file system, network mounts and editors that replace files
included). On a change a whole new app is built from the files, in a thread (with the bounds of
`jobspec.files`), while the running app goes on answering; if any file is invalid the edit is
refused with a log line and the running app stays. Otherwise the new app takes over the
listening socket and the kept-alive connections (`Serving.take_over`): connections accepted from
then on wait for it; the old one finishes its requests, lets go of its connections and saves its
state file; its state is carried over (the jobs where the new spec allows them, or the new data
file's after a data edit; the clock, journal, tokens, faults and every session); then the new one
answers, the connections that waited meanwhile first. No connection is refused or closed, no
acknowledged change is lost, and `--state-sync always` stays as durable as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from httpserving import Serving
from jobspec import Spec, SpecError
from mockserver.config import MockConfig
from mockserver.domain import persist
from mockserver.domain.clock import Clock
from mockserver.domain.data import DataError
from mockserver.domain.errors import ApiError, BadRequest
from mockserver.domain.state import MockState, collector_paused
from mockserver.domain.store import JobStore, describe
from mockserver.domain.validation import compile_schema, schema_problems
from mockserver.http.app import create_app
from mockserver.http.context import STATE
from mockserver.http.sessions import SESSIONS

WATCH_EVERY = 0.5  # seconds between looks at the files
SETTLE = 0.1  # seconds to let an editor finish writing before the files are read
SHOWN_DROPPED = 10  # jobs a reload drops that are logged one by one
log = logging.getLogger("mockserver.reload")
Stamp = tuple[int, int] | None  # (mtime_ns, size); None: the file is missing


def stamps(paths: Iterable[Path]) -> dict[Path, Stamp]:
    """Each file's modification time and size, None for a missing one."""
    found: dict[Path, Stamp] = {}
    for path in paths:
        try:
            status = path.stat()
        except OSError:
            found[path] = None
        else:
            found[path] = (status.st_mtime_ns, status.st_size)
    return found


def watched(config: MockConfig, spec_file: Path | None) -> list[Path]:
    """The files `--reload` watches: the spec, data and users files given on the command line."""
    return [path for path in (spec_file, config.data, config.users) if path is not None]


@dataclass
class Reloader:
    """Watches the files of a running mock and hands its port to a new app when they change and are valid."""

    serving: Serving
    config: MockConfig
    spec_file: Path | None
    read_spec: Callable[[Path | None], Spec]
    make_serving: Callable[[web.Application], Serving]
    swapping: asyncio.Task[None] | None = None  # a hand-over under way: shutting down waits for it
    incoming: Serving | None = None  # the serving it hands the port to

    @property
    def files(self) -> list[Path]:
        """The files watched: those given on the command line."""
        return watched(self.config, self.spec_file)

    async def watch(self, seen: dict[Path, Stamp] | None = None) -> None:
        """Poll the files until cancelled (`seen`: their stamps when the running app read them); reload on every
        change (a refused edit waits for the next one).

        Nothing a file holds stops the watching: an edit that cannot be served is refused with a log
        line, whatever went wrong, and the next edit is looked at as the first was.
        """
        previous = seen if seen is not None else stamps(self.files)  # `seen`: as the running app's files were
        while True:
            await asyncio.sleep(WATCH_EVERY)
            if stamps(self.files) == previous:
                continue
            await asyncio.sleep(SETTLE)
            now = stamps(self.files)
            changed, previous = [path for path in self.files if now[path] != previous[path]], now
            try:
                await self.reload(changed)
            except Exception:  # a bug of ours, not the files': said, and the watching goes on
                log.exception("reload failed; still serving the last good version")

    async def reload(self, changed: list[Path]) -> bool:
        """Build the new app from the files and serve it; False (and the old app kept) when they are invalid.

        The files are read and checked in a thread, while the last good version goes on answering;
        only the hand-over (see `Serving.take_over`) holds new requests back, for as long as the
        requests in flight take to finish and the jobs take to be carried over.
        """
        names = ", ".join(str(path) for path in changed) or "a watched file"
        try:
            app = await asyncio.to_thread(self.build, self.serving.app[STATE].clock)
        except (DataError, SpecError, ValueError, ApiError, OSError, RecursionError, MemoryError) as exc:
            message = " ".join(str(getattr(exc, "message", exc)).split()) or type(exc).__name__
            log.error("reload refused (%s changed): %s; still serving the last good version", names, message)
            return False
        serving, old = self.make_serving(app), self.serving
        data_changed = self.config.data in changed

        async def carry() -> None:
            await asyncio.to_thread(carry_over, old.app, app, data_changed=data_changed)

        self.swapping, self.incoming = asyncio.create_task(serving.take_over(old, carry)), serving
        await asyncio.shield(self.swapping)  # a shutdown meanwhile lets it finish: see `settle`
        await self.settle()
        log.info("reloaded: %s changed; serving %d jobs", names, len(app[STATE].store.jobs))
        return True

    async def settle(self) -> None:
        """Wait for a hand-over under way, so that `serving` is the one listening (before a shutdown, too)."""
        swapping, self.swapping = self.swapping, None
        if swapping is not None:
            await asyncio.gather(swapping, return_exceptions=True)
            if not swapping.cancelled() and swapping.exception() is None and self.incoming is not None:
                self.serving = self.incoming
        self.incoming = None

    def build(self, clock: Clock) -> web.Application:
        """A new app from the files, on the running mock's clock; its state file written to, not read (the running
        mock's state is carried over instead, see `carry_over`)."""
        with collector_paused(self.config.owns_process):
            return create_app(self.read_spec(self.spec_file), config=self.config, clock=clock, restore=False)


def carry_over(old_app: web.Application, new_app: web.Application, *, data_changed: bool) -> None:
    """What a reload keeps, from the old app's state to the new one's: the mock's and every session's (each on its own
    clock; a session that began with the starting data begins again with the new data when that changed)."""
    old, new = old_app[STATE], new_app[STATE]
    carry(old, new, jobs=not data_changed)
    before, after = old_app[SESSIONS], new_app[SESSIONS]
    for name, entry in before.named.items():
        restart = data_changed and before.from_starting_data(entry.state)
        template = None if before.from_starting_data(entry.state) else entry.state.template
        if template is not None:
            template.store.account.move_to(new.budget)
        state = after.create(name, clock=entry.state.clock, template=template)
        carry(entry.state, state, jobs=not restart)
        after.named[name].used = entry.used


def carry(old: MockState, new: MockState, *, jobs: bool) -> None:
    """One state's journal, tokens and logouts, faults (while the operations are the same), rate-limit counts (while
    the limits are), and with `jobs` its jobs, where the new spec allows them."""
    if jobs:
        carry_jobs(old, new)
    new.journal.account.release()
    old.journal.account.move_to(new.budget)
    new.journal = old.journal
    new.auth.tokens, new.auth.logged_out = old.auth.tokens, old.auth.logged_out  # the new users, the same tokens
    if old.faults.operations == new.faults.operations:
        new.faults = old.faults
    elif old.faults.active:
        log.warning("reload: the operations changed, so the injected faults were cleared")
    if old.spec.rate_limits == new.spec.rate_limits and old.config.rate_limits == new.config.rate_limits:
        new.limits = old.limits


def carry_jobs(old: MockState, new: MockState) -> None:
    """Put the old jobs into the new store where the new spec allows them; log those it does not.

    Under the same lifecycle and Job schema every job stays allowed: the store itself is carried
    (at once, however many jobs it holds). Otherwise each job is checked against the new spec.
    """
    if old.spec.lifecycle == new.spec.lifecycle and old.spec.schema("Job") == new.spec.schema("Job"):
        new.store.account.release()
        old.store.account.move_to(new.budget)
        new.store = old.store
        return
    saved = json.loads(persist.snapshot(old))
    kept, dropped = admissible(new, saved["jobs"])
    for reason in dropped[:SHOWN_DROPPED]:
        log.warning("reload: dropped %s", reason)
    if len(dropped) > SHOWN_DROPPED:
        log.warning("reload: dropped %d more jobs the new spec does not allow", len(dropped) - SHOWN_DROPPED)
    ids = {job["uuid"] for job in kept}
    pending = {job_id: due for job_id, due in saved["pending"].items() if job_id in ids}
    new.store.restore(kept, pending, new.clock.now_ms())


def admissible(state: MockState, jobs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The jobs the new spec takes (its Job schema, its states, its invariants) and why each other one is not."""
    validator = compile_schema(state.spec.schema("Job"))
    trial = JobStore(state.spec.lifecycle)
    now = state.clock.now_ms()
    kept, dropped = [], []
    for index, job in enumerate(jobs):
        problems = schema_problems(validator, job)
        if not problems:
            try:
                trial.add(job, now)
            except BadRequest as exc:
                problems = [exc.message]
        if problems:
            dropped.append(f"{describe(index, job)}: the new spec does not allow it: {'; '.join(problems)}")
        else:
            kept.append(job)
    return kept, dropped
