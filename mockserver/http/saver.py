"""Saving the state file while the mock serves: on a timer, or before each answer that reports a change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from mockserver.domain.errors import MockFailure
from mockserver.domain.persist import snapshot, write_atomically
from mockserver.domain.state import MockState
from mockserver.http.answers import render
from mockserver.http.context import STATE
from mockserver.http.sessions import Sessions

SAVE_EVERY = 0.25  # seconds between checks for changes
SYNC_MODES = ("interval", "always")  # --state-sync: on a timer, or before every answer that reports a change
log = logging.getLogger("mockserver.persist")


class Saver:
    """Writes the state file whenever something changed: four times a second, before answers (`always`), at the end.

    Writes are numbered as they begin. A change made while write n was under way is covered by
    write n + 1, whoever asks for it: the requests that wait meanwhile share one write (a group
    commit), instead of writing in turn.
    """

    def __init__(self, state: MockState, path: Path, sessions: Sessions | None = None) -> None:
        self.state, self.path, self.sessions = state, path, sessions
        self.saved: tuple[int, int, int, int] | None = None  # the revision on disk
        self.begun = 0  # writes begun so far
        self._done = 0  # the number of the last write completed
        self._lock = asyncio.Lock()
        self._failing = False

    def revision(self) -> tuple[int, int, int, int]:
        """What the state file must reflect: the jobs, the tokens, the clock to the minute, and the sessions."""
        state = self.state
        sessions = self.sessions.revision() if self.sessions is not None else 0
        return state.store.revision, state.auth.revision, state.clock.now_ms() // 60_000, sessions

    def changed(self) -> bool:
        """Whether something changed since the last write (cheap: three integers)."""
        return self.revision() != self.saved

    async def save(self) -> None:
        """Write the state as it is now, unless nothing changed since the last write; OSError if it cannot be written."""
        await self.save_after(self.begun)

    async def save_after(self, ticket: int) -> None:
        """Make sure a write begun after write number `ticket` is on disk (the caller's change was made meanwhile)."""
        async with self._lock:
            if self._done > ticket:
                return  # written by a write that began after the change
            revision = self.revision()
            if revision == self.saved:
                return
            self.begun += 1
            number = self.begun
            data = snapshot(self.state, self.sessions.states() if self.sessions is not None else None)
            await asyncio.to_thread(write_atomically, self.path, data)
            self.saved, self._done = revision, number

    async def durable(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """`--state-sync always`: the change `response` reports on disk before it goes out; a 500 if it cannot be."""
        if not self.changed():
            return response
        try:
            await self.save_after(self.begun)
        except OSError as exc:
            message = f"the change was made but the state file {self.path} could not be written: {exc}"
            log.error(message)
            request.app[STATE].journal.error(request.method, request.path, message)
            return render(MockFailure(message))
        return response

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """A cleanup context: save four times a second while serving, and once more at shutdown (SIGTERM, SIGINT)."""
        task = asyncio.create_task(self._every(SAVE_EVERY))
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await self.save()

    async def _every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.save()
            except OSError as exc:
                if not self._failing:  # once per spell of failures, not four times a second
                    log.error("cannot save the state file %s: %s; retrying", self.path, exc)
                self._failing = True
            else:
                if self._failing:
                    log.warning("the state file %s is saved again", self.path)
                self._failing = False
