"""The in-memory job store: it applies the spec's lifecycle and nothing else."""

from __future__ import annotations

import copy
import heapq
import json
import random
import uuid as uuidlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobspec import Change, Lifecycle, Refusal, Transition
from mockserver.clock import parse_timestamp, timestamp
from mockserver.errors import BadRequest, JobNotFound, TransitionRefused

TIMESTAMPS = ("created", "started", "finished")
DEFAULT_TIMING = {"delay": 10.0, "duration": 20.0}  # seconds, each drawn from 0.5x to 1.5x
DEFAULT_OTHER_OUTCOMES = 0.2  # share of jobs without params.mock.outcome that end in another worker outcome
DEFAULT_OUTPUT: dict[str, Any] = {"message": "Done."}
DEFAULT_ERROR = "The job failed."
SCHEDULE_CAP = 1000  # scheduled jobs stop appearing while the store holds this many


@dataclass
class Job:
    """One job; timestamps are kept as integer milliseconds since the epoch."""

    uuid: str
    title: str
    description: str
    params: dict[str, Any]
    actor: str
    created: int
    started: int | None
    finished: int | None
    status: str
    result: dict[str, Any]
    version: int = 0
    _encoded: bytes | None = field(default=None, repr=False, compare=False)

    def representation(self) -> dict[str, Any]:
        """The job as the API shows it (without `@id`)."""
        return {
            "uuid": self.uuid,
            "title": self.title,
            "description": self.description,
            "params": self.params,
            "actor": self.actor,
            "created": _ts(self.created),
            "started": _ts(self.started),
            "finished": _ts(self.finished),
            "status": self.status,
            "result": self.result,
        }

    def encoded(self) -> bytes:
        """The representation as JSON bytes, cached until the job changes."""
        if self._encoded is None:
            self._encoded = json.dumps(self.representation(), separators=(",", ":")).encode()
        return self._encoded

    def touch(self) -> None:
        """Note a change: bump the version and drop the cached encoding."""
        self.version += 1
        self._encoded = None

    def mock_setting(self, key: str) -> Any:
        """A setting of `params.mock` (outcome, delay, duration, result, error), if given."""
        settings = self.params.get("mock")
        return settings.get(key) if isinstance(settings, dict) else None


class JobStore:
    """Jobs by uuid, moved only along the lifecycle's transitions."""

    def __init__(self, lifecycle: Lifecycle, *, seed: int | None = None, speed: float = 1.0) -> None:
        self.lifecycle = lifecycle
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
            self._list_cache = b"[" + b",".join(job.encoded() for job in self.jobs.values()) + b"]"
        return self._list_cache

    # -- client operations -------------------------------------------------------------

    def apply(self, operation: str, job_id: str, now_ms: int) -> Transition:
        """Fire what `operation` does to the job, or raise the lifecycle's refusal."""
        job = self.get(job_id)
        outcome = self.lifecycle.outcome(operation, job.status)
        if isinstance(outcome, Refusal):
            raise TransitionRefused(job_id, job.status, operation, outcome.description, outcome.status)
        self._fire(job, outcome, now_ms)
        return outcome

    def delete(self, job_id: str) -> None:
        """Remove a job from every state; its pending work is forgotten."""
        job = self.get(job_id)
        if job.status not in self.lifecycle.removal.states:
            raise TransitionRefused(job_id, job.status, self.lifecycle.removal.operation, "cannot be deleted")
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
                self._fire(job, transition, max(due, _latest(job)))
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
        for name, change in transition.changes.items():
            setattr(job, name, self._value(job, change, now_ms))
        job.status = transition.target
        self._changed(job, now_ms)

    def _changed(self, job: Job, now_ms: int) -> None:
        job.touch()
        self._list_cache = None
        self.revision += 1
        self._schedule(job, now_ms)

    def _value(self, job: Job, change: Change, now_ms: int) -> Any:
        if change.kind == "now":
            return max(now_ms, _latest(job))
        if change.kind == "output":
            output = job.mock_setting("result")
            return copy.deepcopy(output) if isinstance(output, dict) else dict(DEFAULT_OUTPUT)
        if change.kind == "error":
            message = job.mock_setting("error")
            return {"error": message if isinstance(message, str) else DEFAULT_ERROR}
        return copy.deepcopy(change.value)

    # -- seeding and the control API ---------------------------------------------------

    def new_uuid(self) -> str:
        """A version-4 UUID from the store's own generator (deterministic under a seed)."""
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, fields: Mapping[str, Any], now_ms: int) -> Job:
        """Add a job from its representation, filling what is missing consistently."""
        fields = dict(fields)
        status = fields.get("status", self.lifecycle.initial)
        if status not in self.lifecycle.states:
            raise BadRequest(f"status: {status!r} is not one of {', '.join(self.lifecycle.states)}")
        job_id = str(fields.get("uuid") or self.new_uuid())
        if job_id in self.jobs:
            raise BadRequest(f"uuid: a job {job_id} already exists")
        job = Job(
            uuid=job_id,
            title=str(fields.get("title", "Mock job")),
            description=str(fields.get("description", "")),
            params=copy.deepcopy(fields.get("params", {})),
            actor=str(fields.get("actor", "admin")),
            created=_ms(fields.get("created"), "created") or now_ms,
            started=_ms(fields.get("started"), "started"),
            finished=_ms(fields.get("finished"), "finished"),
            status=self.lifecycle.initial,
            result=copy.deepcopy(fields.get("result", {})),
        )
        self._settle(job, status, now_ms, given=set(fields))
        self.jobs[job.uuid] = job
        self._changed(job, now_ms)
        return job

    def move(self, job_id: str, status: str, now_ms: int) -> Job:
        """Put a job in `status` directly, its fields made consistent with that state."""
        job = self.get(job_id)
        if status not in self.lifecycle.states:
            raise BadRequest(f"status: {status!r} is not one of {', '.join(self.lifecycle.states)}")
        if status != job.status:
            self._settle(job, status, now_ms, given=set())
            self._changed(job, now_ms)
        return job

    def _settle(self, job: Job, status: str, now_ms: int, given: set[str]) -> None:
        """Set `status`, fill the fields a transition into it would set, then check invariants."""
        arriving = [t for t in self.lifecycle.transitions if t.target == status]
        for transition in arriving[:1]:
            for name, change in transition.changes.items():
                if name not in given:
                    setattr(job, name, self._value(job, change, now_ms))
        for name, must_be_set in self.lifecycle.states[status].fields.items():
            if name in given:
                continue
            if not must_be_set:
                setattr(job, name, None)
            elif getattr(job, name) is None:
                setattr(job, name, max(now_ms, _latest(job)))
        job.status = status
        problems = self.violations(job)
        if problems:
            raise BadRequest(f"job {job.uuid} would break the lifecycle: {'; '.join(problems)}")

    def violations(self, job: Job) -> list[str]:
        """The lifecycle invariants this job breaks (empty when it is consistent)."""
        problems = []
        for name, must_be_set in self.lifecycle.states[job.status].fields.items():
            if (getattr(job, name) is not None) != must_be_set:
                problems.append(f"{name} must be {'set' if must_be_set else 'null'} when {job.status}")
        ordered = [(n, getattr(job, n)) for n in self.lifecycle.invariants.ordered_timestamps]
        present = [(n, v) for n, v in ordered if v is not None]
        for (before, a), (after, b) in zip(present, present[1:], strict=False):
            if a > b:
                problems.append(f"{before} is after {after}")
        return problems

    def load(self, jobs: Iterable[Mapping[str, Any]], now_ms: int) -> None:
        """Replace every job with these representations."""
        self.jobs.clear()
        self._due.clear()
        self._list_cache = None
        self.revision += 1
        for fields in jobs:
            self.add(fields, now_ms)

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


def _latest(job: Job) -> int:
    return max(v for v in (job.created, job.started, job.finished) if v is not None)
