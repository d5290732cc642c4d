"""`jobs-mock --reload`: the spec, data and users files watched, an edit served without a restart.

Every `WATCH_EVERY` seconds the files' modification times and sizes are compared (polling: no new
dependency, and it works on every file system, network mounts and editors that replace files
included). On a change a whole new app is built from the files; if any of them is invalid the
edit is refused with a log line and the running app stays. Otherwise the jobs are carried over
(a spec or users edit) or start again from the new data file (a data edit), with the clock,
journal, tokens and faults, and the new app takes over the listening port: it listens
beside the old one (SO_REUSEPORT) before the old one stops, so no connection is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp import web

from httpserving import Serving
from jobspec import Spec, SpecError
from mockserver.config import MockConfig
from mockserver.domain import persist
from mockserver.domain.data import DataError
from mockserver.domain.errors import ApiError, BadRequest
from mockserver.domain.state import MockState
from mockserver.domain.store import JobStore, describe
from mockserver.domain.validation import compile_schema, schema_problems
from mockserver.http.app import create_app
from mockserver.http.context import STATE
from mockserver.http.saver import Saver

WATCH_EVERY = 0.5  # seconds between looks at the files
SETTLE = 0.1  # seconds to let an editor finish writing before the files are read
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


@dataclass
class Reloader:
    """Watches the files of a running mock and swaps in a new app when they change and are valid."""

    serving: Serving
    config: MockConfig
    spec_file: Path | None
    read_spec: Callable[[Path | None], Spec]
    make_serving: Callable[[web.Application], Serving]

    @property
    def files(self) -> list[Path]:
        """The files watched: those given on the command line."""
        return [path for path in (self.spec_file, self.config.data, self.config.users) if path is not None]

    async def watch(self) -> None:
        """Poll the files until cancelled; reload on every change (a refused edit waits for the next one)."""
        previous = stamps(self.files)
        while True:
            await asyncio.sleep(WATCH_EVERY)
            if stamps(self.files) == previous:
                continue
            await asyncio.sleep(SETTLE)
            now = stamps(self.files)
            changed, previous = [path for path in self.files if now[path] != previous[path]], now
            await self.reload(changed)

    async def reload(self, changed: list[Path]) -> bool:
        """Build the new app from the files and serve it; False (and the old app kept) when they are invalid."""
        names = ", ".join(str(path) for path in changed) or "a watched file"
        old = self.serving.app[STATE]
        try:
            app = self.build(old, data_changed=self.config.data in changed)
        except (DataError, SpecError, ValueError, ApiError, OSError) as exc:
            message = " ".join(str(getattr(exc, "message", exc)).split())
            log.error("reload refused (%s changed): %s; still serving the last good version", names, message)
            return False
        await self.swap(app)
        log.info("reloaded: %s changed; serving %d jobs", names, len(app[STATE].store.jobs))
        return True

    def build(self, old: MockState, *, data_changed: bool) -> web.Application:
        """A new app from the files, with the old one's clock, journal, tokens, faults and (unless the data changed) jobs."""
        config = replace(self.config, state_file=None)  # restored from the old app below, not from the file
        app = create_app(self.read_spec(self.spec_file), config=config, clock=old.clock)
        new = app[STATE]
        if not data_changed:
            carry_jobs(old, new)
        new.journal = old.journal
        new.auth.tokens, new.auth.logged_out = old.auth.tokens, old.auth.logged_out  # the new users, the same tokens
        if old.faults.operations == new.faults.operations:
            new.faults = old.faults
        elif old.faults.active:
            log.warning("reload: the operations changed, so the injected faults were cleared")
        if self.config.state_file is not None:
            app.cleanup_ctx.append(Saver(new, self.config.state_file).running)
        return app

    async def swap(self, app: web.Application) -> None:
        """Serve `app` on the same address and port, then stop the old app (its requests in flight finish)."""
        port = self.serving.addresses[0][1]
        serving = self.make_serving(app)
        await serving.start(self.config.host, port, reuse_port=True)
        old, self.serving = self.serving, serving
        await old.stop()


def carry_jobs(old: MockState, new: MockState) -> None:
    """Put the old jobs into the new store where the new spec allows them; log each one it does not."""
    saved = json.loads(persist.snapshot(old))
    kept, dropped = admissible(new, saved["jobs"])
    for reason in dropped:
        log.warning("reload: dropped %s", reason)
    pending = {job_id: due for job_id, due in saved["pending"].items() if job_id in {job["uuid"] for job in kept}}
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
