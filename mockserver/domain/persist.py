"""The state file: jobs, the tokens the mock holds and the clock across restarts, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from jobspec.lifecycle import MAX_SECONDS
from jobspec.timestamps import LATEST_MS
from mockserver.domain import documents
from mockserver.domain.auth import Held
from mockserver.domain.data import DataError, check_job, check_jobs, job_validator
from mockserver.domain.errors import BadRequest
from mockserver.domain.state import MockState, collector_paused
from mockserver.domain.validation import compile_schema, schema_problems

FORMAT = "jobs-mock-state"
# 4: the sessions too (each one's jobs, appointments, clock and logouts), written when there are sessions (a file
# without is a 3, as earlier kits read it); 3: the tokens held (digests, with whose and until when); 1 and 2 (still
# read) kept revocations instead: their jobs and clock are taken back, their tokens are not (a token works while the
# mock holds it, and they held none).
VERSION = 4
WITHOUT_SESSIONS = 3
SESSION_NAME = "^[A-Za-z0-9._-]{1,64}$"


def snapshot(state: MockState, sessions: Mapping[str, MockState] | None = None) -> bytes:
    """The state to save, as JSON bytes (the store adds its jobs and the worker's appointments), with `sessions`."""
    header = {
        "format": FORMAT,
        "version": VERSION if sessions else WITHOUT_SESSIONS,
        "clock": state.clock.now_ms(),
        "tokens": {key: list(held) for key, held in sorted(state.auth.held().items())},
    }
    whole = state.store.encoded_snapshot(header)
    if not sessions:
        return whole
    held = state.auth.tokens.held
    parts = [
        json.dumps(name).encode()
        + b":"
        + session.store.encoded_snapshot(
            {"clock": session.clock.now_ms(), "logouts": sorted(key for key in session.auth.logged_out if key in held)}
        )
        for name, session in sessions.items()
    ]
    return b"".join([whole[:-1], b',"sessions":{', b",".join(parts), b"}}"])


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


def state_schema() -> dict[str, Any]:
    """What a state file holds, version 1 to 4: checked before anything in it is used."""
    due = {"type": "integer", "minimum": 0, "maximum": LATEST_MS + MAX_SECONDS * 1000}
    held = {
        "type": "array",
        "prefixItems": [{"type": "string", "minLength": 1}, {"type": ["number", "null"]}],
        "minItems": 2,
        "maxItems": 2,
    }
    return {
        "type": "object",
        "required": ["format", "version", "clock", "pending", "jobs"],
        "properties": {
            "clock": {"type": "integer", "minimum": 0, "maximum": LATEST_MS},
            "pending": {"type": "object", "additionalProperties": due},
            "jobs": {"type": "array"},
        },
        "allOf": [
            {
                "if": {"properties": {"version": {"const": 1}}},
                "then": {
                    "required": ["revoked"],
                    "properties": {"revoked": {"type": "array", "items": {"type": "string"}}},
                },
            },
            {
                "if": {"properties": {"version": {"const": 2}}},
                "then": {
                    "required": ["revoked"],
                    "properties": {"revoked": {"type": "object", "additionalProperties": {"type": ["number", "null"]}}},
                },
            },
            {
                "if": {"properties": {"version": {"enum": [WITHOUT_SESSIONS, VERSION]}}},
                "then": {
                    "required": ["tokens"],
                    "properties": {
                        "tokens": {
                            "type": "object",
                            "propertyNames": {"pattern": "^[0-9a-f]{64}$"},
                            "additionalProperties": held,
                        },
                        "sessions": {
                            "type": "object",
                            "propertyNames": {"pattern": SESSION_NAME},
                            "additionalProperties": {
                                "type": "object",
                                "required": ["clock", "logouts", "pending", "jobs"],
                                "properties": {
                                    "clock": {"type": "integer", "minimum": 0, "maximum": LATEST_MS},
                                    "logouts": {
                                        "type": "array",
                                        "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    },
                                    "pending": {"type": "object", "additionalProperties": due},
                                    "jobs": {"type": "array"},
                                },
                            },
                        },
                    },
                },
            },
        ],
    }


def read(path: Path, state: MockState) -> dict[str, Any] | None:
    """The saved state, checked; None when there is no file yet; DataError naming the file and the place otherwise.

    Its jobs are a `SavedJobs`: each is decoded and checked as the store takes it (see `restore`),
    so that 100,000 saved jobs never sit in memory as one parsed document beside the store.
    """
    if not path.exists():
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _corrupt(path, f"cannot read it ({exc.strerror})") from None
    saved = _members(raw)
    if saved is None:  # not a file as the mock writes them: parsed whole, and named precisely if it is broken
        try:
            saved = documents.loads(raw, where="")
        except documents.DocumentError as exc:
            raise _corrupt(path, str(exc)) from None
    del raw
    if (
        not isinstance(saved, dict)
        or saved.get("format") != FORMAT
        or saved.get("version") not in (1, 2, WITHOUT_SESSIONS, VERSION)
    ):
        raise _corrupt(path, f"not a {FORMAT} file of version 1 to {VERSION}")
    jobs = saved["jobs"] if isinstance(saved.get("jobs"), SavedJobs) else None
    problems = schema_problems(compile_schema(state_schema()), {**saved, "jobs": []} if jobs else saved, root="")
    if problems:
        raise _corrupt(path, "; ".join(problems[:3]))
    if jobs is None:
        try:
            check_jobs(state.spec, saved["jobs"], Path("jobs"))
        except DataError as exc:
            raise _corrupt(path, str(exc)) from None
    else:
        validator = job_validator(state.spec)
        jobs.check = lambda index, job: _check_saved(validator, path, index, job)
    for name, session in saved.get("sessions", {}).items():
        try:
            check_jobs(state.spec, session["jobs"], Path(f"sessions.{name}.jobs"))
        except DataError as exc:
            raise _corrupt(path, str(exc)) from None
    return saved


def restore(state: MockState, saved: dict[str, Any], path: Path) -> None:
    """Put the saved jobs, appointments, tokens and time back (the store is empty: see MockState.load)."""
    behind = saved["clock"] - state.clock.now_ms()
    if behind > 0:
        state.clock.advance(min(behind / 1000, state.clock.room()))
    try:
        with collector_paused(state.config.owns_process):  # as MockState.load
            state.store.restore(saved["jobs"], saved["pending"], state.clock.now_ms())
    except BadRequest as exc:
        raise _corrupt(path, exc.message) from None
    if saved["version"] >= WITHOUT_SESSIONS:
        state.auth.restore({key: Held(login, expires) for key, (login, expires) in saved["tokens"].items()})


def restore_session(session: MockState, saved: Mapping[str, Any], path: Path) -> None:
    """Put a saved session's jobs, appointments, clock and logouts back into a session just started."""
    behind = saved["clock"] - session.clock.now_ms()
    if behind > 0:
        session.clock.advance(min(behind / 1000, session.clock.room()))
    try:
        session.store.restore(saved["jobs"], saved["pending"], session.clock.now_ms())
    except BadRequest as exc:
        raise _corrupt(path, exc.message) from None
    session.auth.logged_out = set(saved["logouts"])


class SavedJobs:
    """The jobs array of a state file, decoded one job at a time whenever it is iterated, each checked first."""

    def __init__(self, text: str, start: int) -> None:
        self.text, self.start = text, start
        self.check: Callable[[int, Any], None] = lambda index, job: None

    def __iter__(self) -> Iterator[Any]:
        for index, (job, _) in enumerate(documents.items(self.text, self.start)):
            self.check(index, job)
            yield job


def _check_saved(validator: Any, path: Path, index: int, job: Any) -> None:
    try:
        documents.check(job, f"jobs[{index}]")
        check_job(validator, index, job, Path("jobs"))
    except (documents.DocumentError, DataError) as exc:
        raise _corrupt(path, str(exc)) from None


def _members(raw: bytes) -> dict[str, Any] | None:
    """The top-level members of a state file, its jobs left as text (a `SavedJobs`); None for anything unusual.

    Anything this does not read as the mock writes it (not UTF-8, not an object, a value that is
    not finite, a syntax error, jobs that are not an array) is left to the whole-document parser,
    which says what is wrong.
    """
    try:
        text = raw.decode()
        decoder, members, index = json.JSONDecoder(), {}, documents.skip_space(text, 0)
        if text[index] != "{":
            return None
        index = documents.skip_space(text, index + 1)
        while text[index] != "}":
            key, index = decoder.raw_decode(text, index)
            index = documents.skip_space(text, index)
            if not isinstance(key, str) or text[index] != ":":
                return None
            index = documents.skip_space(text, index + 1)
            if key == "jobs" and text[index] == "[":
                members[key] = SavedJobs(text, index)
                index = documents.array_end(text, index)
            else:
                members[key], index = decoder.raw_decode(text, index)
                documents.check(members[key])
            index = documents.skip_space(text, index)
            if text[index] == ",":
                index = documents.skip_space(text, index + 1)
            elif text[index] != "}":
                return None
        if documents.skip_space(text, index + 1) != len(text):
            return None
    except (ValueError, IndexError, RecursionError):  # documents.DocumentError is a ValueError
        return None
    return members


def _corrupt(path: Path, problem: str) -> DataError:
    return DataError(f"the state file {path} cannot be used: {problem}. Fix it, or move it away to start afresh.")
