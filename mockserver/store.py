"""The in-memory job store: it applies the spec's lifecycle and nothing else."""

from __future__ import annotations

import copy
import heapq
import json
import random
import uuid as uuidlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jobspec import Change, Lifecycle, LifecycleError, Refusal, Transition
from mockserver.clock import parse_timestamp, timestamp
from mockserver.errors import BadRequest, JobNotFound, TransitionRefused

DEFAULT_TIMING = {"delay": 10.0, "duration": 20.0}  # seconds, each drawn from 0.5x to 1.5x
DEFAULT_OTHER_OUTCOMES = 0.2  # share of jobs without params.mock.outcome that end in another worker outcome
DEFAULT_OUTPUT: dict[str, Any] = {"message": "Done."}
DEFAULT_ERROR = "The job failed."
SCHEDULE_CAP = 1000  # scheduled jobs stop appearing while the store holds this many


Fields = dict[str, Any]  # a job being worked on: its representation, timestamps as milliseconds


@dataclass(slots=True)
class Job:
    """One job, kept as its JSON encoding plus what the store reads often.

    The encoding is the only copy of `title`, `params`, `result` and the rest: 100,000 jobs as
    parsed dictionaries would take several times the memory. A change decodes, edits, re-encodes.
    """

    uuid: str
    status: str
    stamps: tuple[int | None, ...]  # the lifecycle's ordered timestamps, in milliseconds
    body: bytes  # the representation (without `@id`) as compact JSON
    mock: dict[str, Any] | None  # params.mock: the worker's instructions for this job
    version: int = 0

    def mock_setting(self, key: str) -> Any:
        """A setting of `params.mock` (outcome, delay, duration, result, error), if given."""
        return None if self.mock is None else self.mock.get(key)


class JobStore:
    """Jobs by uuid, moved only along the lifecycle's transitions."""

    def __init__(self, lifecycle: Lifecycle, *, seed: int | None = None, speed: float = 1.0) -> None:
        self.lifecycle = lifecycle
        self.stamp_names = lifecycle.invariants.ordered_timestamps
        self.speed = speed
        self.rng = random.Random(seed)
        self.jobs: dict[str, Job] = {}
        self._due: list[tuple[int, int, str, int]] = []
        self._sequence = 0
        self._list_cache: bytes | None = None
        self._schedule_every: int | None = None
        self._next_spawn = 0
        self._templates: list[dict[str, Any]] = []
        self.revision = 0  # grows with every change, for savers

    # -- reading -----------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        """The job with this id, or JobNotFound."""
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def encoded_list(self) -> bytes:
        """The whole list as JSON bytes, cached until any job changes."""
        if self._list_cache is None:
            self._list_cache = b"[" + b",".join(job.body for job in self.jobs.values()) + b"]"
        return self._list_cache

    # -- client operations -------------------------------------------------------------

    def apply(self, operation: str, job_id: str, now_ms: int) -> Transition:
        """Fire what `operation` does to the job, or raise the lifecycle's refusal."""
        job = self.get(job_id)
        outcome = self.lifecycle.outcome(operation, job.status)
        if isinstance(outcome, Refusal):
            raise TransitionRefused(job_id, job.status, outcome)
        if not isinstance(outcome, Transition):
            raise LifecycleError(f"{operation} removes jobs: JobStore.delete, not apply")
        self._fire(job, outcome, now_ms)
        return outcome

    def delete(self, job_id: str) -> None:
        """Remove a job from every state; its pending work is forgotten."""
        job = self.get(job_id)
        outcome = self.lifecycle.outcome(self.lifecycle.removal.operation, job.status)
        if isinstance(outcome, Refusal):
            raise TransitionRefused(job_id, job.status, outcome)
        del self.jobs[job_id]
        self._list_cache = None
        self.revision += 1

    # -- the worker --------------------------------------------------------------------

    def schedule(self, every_seconds: float, templates: Iterable[Mapping[str, Any]], now_ms: int) -> None:
        """Create a new job every `every_seconds`, as Nick's scheduled work does, modelled on `templates`."""
        self._templates = [
            {
                key: copy.deepcopy(value)
                for key, value in t.items()
                if key in ("title", "description", "params", "actor")
            }
            for t in templates
        ] or [{"title": "Scheduled job"}]
        self._schedule_every = max(1, round(every_seconds * 1000))
        self._next_spawn = now_ms + self._schedule_every

    def _spawn(self, now_ms: int) -> None:
        every = self._schedule_every
        if every is None or self._next_spawn > now_ms:
            return
        ticks = (now_ms - self._next_spawn) // every + 1
        room = max(0, SCHEDULE_CAP - len(self.jobs))
        for tick in range(ticks - min(ticks, room), ticks):
            template = self._templates[self.rng.randrange(len(self._templates))]
            self.add({**template, "status": self.lifecycle.initial}, self._next_spawn + tick * every)
        self._next_spawn += ticks * every

    def advance(self, now_ms: int) -> int:
        """Spawn scheduled jobs, fire every worker transition due by `now_ms` at its due time; count them."""
        self._spawn(now_ms)
        fired = 0
        while self._due and self._due[0][0] <= now_ms:
            due, _, job_id, version = heapq.heappop(self._due)
            job = self.jobs.get(job_id)
            if job is None or job.version != version:
                continue
            transition = self._worker_transition(job)
            if transition is not None:
                self._fire(job, transition, max(due, _latest(job.stamps)))
                fired += 1
        return fired

    def _worker_transition(self, job: Job) -> Transition | None:
        candidates = self.lifecycle.worker_transitions(job.status)
        wanted = job.mock_setting("outcome")
        for transition in candidates:
            if transition.target == wanted:
                return transition
        if len(candidates) > 1 and self.rng.random() < DEFAULT_OTHER_OUTCOMES:
            return self.rng.choice(candidates[1:])
        return candidates[0] if candidates else None

    def _schedule(self, job: Job, now_ms: int) -> None:
        if not self.lifecycle.worker_transitions(job.status):
            return
        key = "delay" if job.status == self.lifecycle.initial else "duration"
        seconds = job.mock_setting(key)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            seconds = DEFAULT_TIMING[key] * self.rng.uniform(0.5, 1.5) / self.speed
        self._sequence += 1
        due = now_ms + int(max(0.0, float(seconds)) * 1000)
        heapq.heappush(self._due, (due, self._sequence, job.uuid, job.version))

    def _fire(self, job: Job, transition: Transition, now_ms: int) -> None:
        fields = self._open(job)
        for name, change in transition.changes.items():
            fields[name] = self._value(fields, change, now_ms)
        fields["status"] = transition.target
        self._save(job, fields)
        self._changed(job, now_ms)

    def _open(self, job: Job) -> Fields:
        """A working copy of a job to edit: its representation, timestamps in milliseconds."""
        fields: Fields = json.loads(job.body)
        fields.update(zip(self.stamp_names, job.stamps, strict=True))
        return fields

    def _save(self, job: Job, fields: Fields) -> None:
        """Write a working copy back into the job."""
        job.status = fields["status"]
        job.stamps = tuple(fields[name] for name in self.stamp_names)
        job.body = self._encode(fields)

    def _encode(self, fields: Fields) -> bytes:
        shown = {**fields, **{name: _ts(fields[name]) for name in self.stamp_names}}
        return json.dumps(shown, separators=(",", ":")).encode()

    def _changed(self, job: Job, now_ms: int) -> None:
        job.version += 1
        self._list_cache = None
        self.revision += 1
        self._schedule(job, now_ms)

    def _value(self, fields: Fields, change: Change, now_ms: int) -> Any:
        mock = _mock(fields) or {}
        if change.kind == "now":
            return max(now_ms, _latest(fields[n] for n in self.stamp_names))
        if change.kind == "output":
            output = mock.get("result")
            return copy.deepcopy(output) if isinstance(output, dict) else dict(DEFAULT_OUTPUT)
        if change.kind == "error":
            message = mock.get("error")
            return {"error": message if isinstance(message, str) else DEFAULT_ERROR}
        return copy.deepcopy(change.value)

    # -- seeding and the control API ---------------------------------------------------

    def new_uuid(self) -> str:
        """A version-4 UUID from the store's own generator (deterministic under a seed)."""
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, given: Mapping[str, Any], now_ms: int) -> Job:
        """Add a job from its representation, filling what is missing consistently.

        Nothing of `given` is kept: it is encoded, and `params.mock` copied (see Job).
        """
        status = given.get("status", self.lifecycle.initial)
        if status not in self.lifecycle.states:
            raise BadRequest(f"status: {status!r} is not one of {', '.join(self.lifecycle.states)}")
        job_id = str(given.get("uuid") or self.new_uuid())
        if job_id in self.jobs:
            raise BadRequest(f"uuid: a job {job_id} already exists")
        fields: Fields = {
            "uuid": job_id,
            "title": str(given.get("title", "Mock job")),
            "description": str(given.get("description", "")),
            "params": given.get("params", {}),
            "actor": str(given.get("actor", "admin")),
            "created": _ms(given.get("created"), "created") or now_ms,
            "started": _ms(given.get("started"), "started"),
            "finished": _ms(given.get("finished"), "finished"),
            "status": self.lifecycle.initial,
            "result": given.get("result", {}),
        }
        self._settle(fields, status, now_ms, given=set(given))
        # Fresh copies, not parsed objects: what a job keeps must not pin the memory of the document it came from.
        # (params, and so params.mock, never change after this: the spec lists them as immutable.)
        job = Job(job_id.encode().decode(), fields["status"], (), b"", copy.deepcopy(_mock(fields)))
        self._save(job, fields)
        self.jobs[job.uuid] = job
        self._changed(job, now_ms)
        return job

    def move(self, job_id: str, status: str, now_ms: int) -> Job:
        """Put a job in `status` directly, its fields made consistent with that state."""
        job = self.get(job_id)
        if status not in self.lifecycle.states:
            raise BadRequest(f"status: {status!r} is not one of {', '.join(self.lifecycle.states)}")
        if status != job.status:
            fields = self._open(job)
            self._settle(fields, status, now_ms, given=set())
            self._save(job, fields)
            self._changed(job, now_ms)
        return job

    def _settle(self, fields: Fields, status: str, now_ms: int, given: set[str]) -> None:
        """Set `status`, fill the fields a transition into it would set, then check invariants."""
        arriving = [t for t in self.lifecycle.transitions if t.target == status]
        for transition in arriving[:1]:
            for name, change in transition.changes.items():
                if name not in given:
                    fields[name] = self._value(fields, change, now_ms)
        for name, must_be_set in self.lifecycle.states[status].fields.items():
            if name in given:
                continue
            if not must_be_set:
                fields[name] = None
            elif fields[name] is None:
                fields[name] = max(now_ms, _latest(fields[n] for n in self.stamp_names))
        fields["status"] = self.lifecycle.states[status].name  # the lifecycle's own string, shared by every job
        problems = self.violations(fields)
        if problems:
            raise BadRequest(f"job {fields['uuid']} would break the lifecycle: {'; '.join(problems)}")

    def violations(self, fields: Fields) -> list[str]:
        """The lifecycle invariants a job's working copy breaks (empty when it is consistent)."""
        status = fields["status"]
        problems = []
        for name, must_be_set in self.lifecycle.states[status].fields.items():
            if (fields[name] is not None) != must_be_set:
                problems.append(f"{name} must be {'set' if must_be_set else 'null'} when {status}")
        present = [(n, fields[n]) for n in self.stamp_names if fields[n] is not None]
        for (before, a), (after, b) in zip(present, present[1:], strict=False):
            if a > b:
                problems.append(f"{before} is after {after}")
        return problems

    def load(self, jobs: Iterable[Mapping[str, Any]], now_ms: int) -> None:
        """Replace every job with these representations; BadRequest naming the first inconsistent one."""
        self.jobs.clear()
        self._due.clear()
        self._list_cache = None
        self.revision += 1
        for index, fields in enumerate(jobs):
            try:
                self.add(fields, now_ms)
            except BadRequest as exc:
                raise BadRequest(f"{describe(index, fields)}: {exc.message}") from None

    def pending(self) -> dict[str, int]:
        """When the worker will next move each job that is waiting for it (uuid -> ms)."""
        return {
            job_id: due for due, _, job_id, version in self._due
            if job_id in self.jobs and self.jobs[job_id].version == version
        }  # fmt: skip

    def restore(self, jobs: Iterable[Mapping[str, Any]], pending: Mapping[str, int], now_ms: int) -> None:
        """Load saved jobs and put the worker's saved appointments back in place of fresh ones."""
        self.load(jobs, now_ms)
        self._due = [entry for entry in self._due if entry[2] not in pending]
        for job_id, due in pending.items():
            if job_id in self.jobs:
                self._sequence += 1
                self._due.append((int(due), self._sequence, job_id, self.jobs[job_id].version))
        heapq.heapify(self._due)


def _ts(ms: int | None) -> str | None:
    return None if ms is None else timestamp(ms)


def _ms(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        return round(parse_timestamp(str(value)) * 1000)
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not an ISO 8601 timestamp") from None


def _latest(stamps: Iterable[int | None]) -> int:
    return max(v for v in stamps if v is not None)


def _mock(fields: Fields) -> dict[str, Any] | None:
    params = fields.get("params")
    settings = params.get("mock") if isinstance(params, dict) else None
    return settings if isinstance(settings, dict) else None


def describe(index: int, entry: Any) -> str:
    """How a message names one entry of a list of jobs."""
    if isinstance(entry, dict) and "uuid" in entry:
        return f"job {index} ({entry['uuid']}, {entry.get('title', 'untitled')!r})"
    return f"job {index}"
