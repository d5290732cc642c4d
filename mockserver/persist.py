"""The state file: jobs, revoked tokens and the clock across restarts, written atomically."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from mockserver.data import DataError, check_jobs
from mockserver.errors import BadRequest
from mockserver.state import STATE, MockState

FORMAT = "jobs-mock-state"
VERSION = 2  # 2: revocations by what the token is, with their expiry; 1 (still read): digests of token texts
SAVE_EVERY = 0.25  # seconds between checks for changes
log = logging.getLogger("mockserver.persist")


def snapshot(state: MockState) -> bytes:
    """The state to save, as JSON bytes (the store adds its jobs and the worker's appointments)."""
    header = {
        "format": FORMAT,
        "version": VERSION,
        "clock": state.clock.now_ms(),
        "revoked": dict(sorted(state.auth.prune().items())),
    }
    return state.store.encoded_snapshot(header)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash at any moment leaves the old file or the new one."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read(path: Path, state: MockState) -> dict[str, Any] | None:
    """The saved state, checked; None when there is no file yet; DataError when it cannot be used."""
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise _corrupt(path, f"not readable JSON ({exc})") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT or saved.get("version") not in (1, VERSION):
        raise _corrupt(path, f"not a {FORMAT} file of version 1 or {VERSION}")
    if not isinstance(saved.get("clock"), int) or not isinstance(saved.get("pending"), dict):
        raise _corrupt(path, "clock or pending is missing or malformed")
    revoked = saved.get("revoked")
    if saved["version"] == 1:
        if not isinstance(revoked, list) or not all(isinstance(item, str) for item in revoked):
            raise _corrupt(path, "revoked is not a list of strings")
    elif not isinstance(revoked, dict) or not all(
        expires is None or (isinstance(expires, int | float) and not isinstance(expires, bool))
        for expires in revoked.values()
    ):
        raise _corrupt(path, "revoked is not an object of expiry times")
    try:
        check_jobs(state.spec, saved.get("jobs"), path)
    except DataError as exc:
        raise _corrupt(path, str(exc)) from None
    return saved


def restore(state: MockState, saved: dict[str, Any], path: Path) -> None:
    """Put the saved jobs, appointments, revocations and time back."""
    behind = saved["clock"] - state.clock.now_ms()
    if behind > 0:
        state.clock.advance(behind / 1000)
    try:
        state.store.restore(saved["jobs"], saved["pending"], state.clock.now_ms())
    except BadRequest as exc:
        raise _corrupt(path, exc.message) from None
    if saved["version"] == 1:
        state.auth.restore_legacy(saved["revoked"])
    else:
        state.auth.restore(saved["revoked"])


def _corrupt(path: Path, problem: str) -> DataError:
    return DataError(f"the state file {path} cannot be used: {problem}. Fix it, or move it away to start afresh.")


def saver(path: Path) -> Any:
    """A cleanup context that saves whenever something changed, and once more at shutdown."""

    async def save_while_running(app: web.Application) -> AsyncIterator[None]:
        state = app[STATE]
        last = None

        async def save_if_changed() -> None:
            nonlocal last
            revision = (state.store.revision, state.auth.revision, state.clock.now_ms() // 60_000)
            if revision != last:
                data = snapshot(state)
                await asyncio.to_thread(write_atomically, path, data)
                last = revision

        async def loop() -> None:
            while True:
                await asyncio.sleep(SAVE_EVERY)
                try:
                    await save_if_changed()
                except OSError as exc:
                    log.error("cannot save the state file %s: %s", path, exc)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await save_if_changed()

    return save_while_running
