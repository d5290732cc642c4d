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

from jobspec import Change, InconsistentJob, Lifecycle, Refusal, Removal, Transition
from jobspec.invariants import invariant_problems, settle
from jobspec.lifecycle import MAX_SECONDS
from jobspec.timestamps import LATEST_MS, parse_timestamp, timestamp
from mockserver.domain.budget import JOB_OVERHEAD, MAX_JOB_BYTES, MAX_JOBS, Budget, Charged, JobTooLarge, OutOfBudget
from mockserver.domain.documents import decode, dump, encode
from mockserver.domain.errors import BadRequest, JobNotFound, Refused
from mockserver.domain.validation import compile_schema, schema_problems

OUTCOME, RESULT, ERROR = "outcome", "result", "error"  # params.mock keys: the end state, $output, $error's message
SCHEDULE_CAP = 1000  # scheduled jobs stop appearing while the store holds this many
EARLIEST_MS = 0  # 1970-01-01T00:00:00.000Z: the earliest time a job may carry (the format needs 4-digit years)


Fields = dict[str, Any]  # a job being worked on: its representation, timestamps as milliseconds


@dataclass(slots=True)
class Job:
    """One job, kept as its JSON encoding plus what the store reads often.

    The encoding is the only copy of `title`, `params`, `result` and the rest: 100,000 jobs as
    parsed dictionaries would take several times the memory. An edit (the control API's) decodes,
    edits, re-encodes. A transition only notes the fields it sets (`changed`), which are written into
    the encoding when the job is next read (`written`): the worker's moves and a client's abort cost
    no decoding and encoding each, and several changes between two reads cost one.
    """

    uuid: str
    state: str  # the value of the lifecycle's status field
    stamps: tuple[int | None, ...]  # the lifecycle's ordered timestamps, in milliseconds
    body: bytes  # the representation (without `@id`) as compact JSON, as last written: read it through `written`
    mock: dict[str, Any] | None  # params.mock: the worker's instructions for this job
    version: int = 0
    python: bool = False  # `body` written by Python's JSON encoder, not orjson: see mockserver.domain.documents.encode
    changed: Fields | None = None  # top-level fields set since `body` was written, in the order they were first set

    def written(self) -> bytes:
        """The representation as compact JSON: `body`, with the fields changed since it was written (then written)."""
        changed = self.changed
        if changed is not None:
            fields: Fields = decode(self.body, self.python)
            fields.update(changed)  # a field it has keeps its place; a new one goes last, as an edit puts it
            self.body, self.python = encode(fields, keep=True)
            self.changed = None
        return self.body

    def mock_setting(self, key: str) -> Any:
        """A setting of `params.mock` (the outcome, a worker step's timing setting, result, error), if given."""
        return None if self.mock is None else self.mock.get(key)


class JobStore:
    """Jobs by uuid, moved only along the lifecycle's transitions."""

    def __init__(
        self, lifecycle: Lifecycle, *, seed: int | None = None, speed: float = 1.0, budget: Budget | None = None
    ) -> None:
        self.lifecycle = lifecycle
        self.account = Charged(budget)  # what it keeps, against the mock's memory budget (see mockserver.domain.budget)
        self._cache_charged = 0  # of which the cached list
        self.field = lifecycle.status_field
        self.stamp_names = lifecycle.invariants.ordered_timestamps
        self._stamp_position = {name: index for index, name in enumerate(self.stamp_names)}
        # Timestamps no state rules on are set in every state (a job's creation time): now, unless given.
        self._always_set = [n for n in self.stamp_names if all(n not in s.fields for s in lifecycle.states.values())]
        self.speed = speed
        self.rng = random.Random(seed)
        self.jobs: dict[str, Job] = {}
        self._due: list[tuple[int, int, str, int]] = []
        self._sequence = 0
        self._list_cache: bytes | None = None
        self._schedule_every: int | None = None
        self._next_spawn = 0
        self._templates: list[dict[str, Any]] = []
        self._mock_settings = compile_schema(mock_settings_schema(lifecycle))
        self.revision = 0  # grows with every change, for savers
        # Copy-on-write (sessions): `jobs` and `_due` may be another store's, read-only, until the first change.
        self._shared = False
        self._offset = 0  # added to a shared store's appointments: the time between its loading and ours

    # -- reading -----------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        """The job with this id, or JobNotFound."""
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def encoded_list(self) -> bytes:
        """The whole list as JSON bytes, cached until any job changes."""
        if self._list_cache is None:  # one allocation: `b"[" + ... + b"]"` would copy 100,000 jobs twice more
            # `written` called only for the jobs changed since they were written: not once for each of 100,000 jobs.
            bodies = [job.body if job.changed is None else job.written() for job in self.jobs.values()]
            listed = b"".join([b"[", b",".join(bodies), b"]"])
            budget = self.account.budget
            if budget is not None and budget.used + len(listed) > budget.limit:
                return listed  # answered, not kept: the budget is for what clients keep
            self._list_cache, self._cache_charged = listed, len(listed)
            self.account.charge(len(listed))
        return self._list_cache

    def _forget_list(self) -> None:
        """Drop the cached list (a job changed)."""
        self._list_cache = None
        if self._cache_charged:
            self.account.charge(-self._cache_charged)
            self._cache_charged = 0

    def encoded_job(self, job_id: str, url: str) -> bytes:
        """One job as JSON bytes, its absolute `url` first as `@id`; JobNotFound for an unknown id."""
        body = self.get(job_id).written()
        return b'{"@id":' + dump(url) + b"," + body[1:]

    def encoded_snapshot(self, header: Mapping[str, Any]) -> bytes:
        """`header`'s members, the worker's appointments (`pending`) and every job (`jobs`) as one JSON object."""
        head = json.dumps({**header, "pending": self.pending()}, separators=(",", ":")).encode()
        return b"".join([head[:-1], b',"jobs":', self.encoded_list(), b"}"])

    # -- client operations -------------------------------------------------------------

    def act(self, operation: str, job_id: str, now_ms: int) -> Transition | Removal:
        """Do what the lifecycle says `operation` does to the job: fire a transition or remove it; Refused otherwise."""
        job = self.get(job_id)
        outcome = self.lifecycle.outcome(operation, job.state)
        if isinstance(outcome, Refusal):
            raise Refused(outcome.status, outcome.body(job_id, job.state))
        if self._shared:
            self._own()
            job = self.jobs[job_id]
        if isinstance(outcome, Removal):
            del self.jobs[job_id]  # its pending work is forgotten with it
            self.account.charge(-JOB_OVERHEAD - len(job.body))
            self._forget_list()
            self.revision += 1
        else:
            self._fire(job, outcome, now_ms)
        return outcome

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
            self.add({**template, self.field: self.lifecycle.initial}, self._next_spawn + tick * every)
        self._next_spawn += ticks * every

    def advance(self, now_ms: int) -> None:
        """Spawn scheduled jobs and fire every worker transition due by `now_ms`, each at its due time."""
        self._spawn(now_ms)
        if self._shared and self._due and self._due[0][0] + self._offset <= now_ms:
            self._own()
        while self._due and self._due[0][0] <= now_ms:
            due, _, job_id, version = heapq.heappop(self._due)
            job = self.jobs.get(job_id)
            if job is None or job.version != version:
                continue
            step = self.lifecycle.worker_step(job.state)
            if step is not None:  # a restored appointment may find its job where the worker never moves one
                self._fire(job, step.choose(self.rng, job.mock_setting(OUTCOME)), max(due, _latest(job.stamps)))

    def _schedule(self, job: Job, now_ms: int) -> None:
        """Give the worker an appointment with a job in a state it moves jobs out of."""
        step = self.lifecycle.worker_step(job.state)
        if step is None:
            return
        seconds = step.seconds(self.rng, job.mock_setting(step.setting), self.speed)
        self._sequence += 1
        heapq.heappush(self._due, (now_ms + int(seconds * 1000), self._sequence, job.uuid, job.version))

    def _fire(self, job: Job, transition: Transition, now_ms: int) -> None:
        """Move a job along `transition`, working out only the fields it changes (timestamps: text and milliseconds),
        which the job's JSON takes when it is next read (see Job)."""
        changed: Fields = {} if job.changed is None else dict(job.changed)  # a copy: sessions may share the old one
        stamps = list(job.stamps)
        positions = self._stamp_position
        for name, change in transition.changes.items():
            # "now" is never before the job's latest timestamp: its timestamps stay in order.
            value = max(now_ms, _latest(stamps)) if change.kind == "now" else self._value(job.mock, change)
            position = positions.get(name)
            if position is None:
                changed[name] = value
            else:
                stamps[position] = value
                changed[name] = None if value is None else timestamp(value)
        changed[self.field] = job.state = transition.target
        job.stamps = tuple(stamps)
        job.changed = changed
        self._changed(job, now_ms)

    def _open(self, job: Job) -> Fields:
        """A working copy of a job to edit: its representation, timestamps in milliseconds."""
        body = job.written()
        fields: Fields = decode(body, job.python)
        fields.update(zip(self.stamp_names, job.stamps, strict=True))
        return fields

    def _save(self, job: Job, fields: Fields) -> None:
        """Write a working copy back into the job."""
        job.state = fields[self.field]
        job.stamps = tuple(fields[name] for name in self.stamp_names)
        before = len(job.body)
        job.changed = None  # `fields` has them
        job.body, job.python = encode({**fields, **{name: _ts(fields[name]) for name in self.stamp_names}}, keep=True)
        self.account.charge(len(job.body) - before)

    def _changed(self, job: Job, now_ms: int) -> None:
        job.version += 1
        self._forget_list()
        self.revision += 1
        self._schedule(job, now_ms)

    def _value(self, mock: dict[str, Any] | None, change: Change) -> Any:
        """What `change` (of any kind but "now") sets a field of a job to (`mock`: its `params.mock`)."""
        if change.kind == "output":
            return self._output(mock)
        if change.kind == "error":
            return self._error(mock)
        value = change.value
        if value is None or isinstance(value, str | int | float):
            return value
        return type(value)() if not value else copy.deepcopy(value)  # `result: {}` on every retry: no deepcopy

    def _output(self, mock: dict[str, Any] | None) -> dict[str, Any]:
        """What `$output` is for a job (`mock`: its `params.mock`): its `params.mock.result`, else the spec's default."""
        result = (mock or {}).get(RESULT)
        return copy.deepcopy(result if isinstance(result, dict) else dict(self.lifecycle.worker_output))

    def _error(self, mock: dict[str, Any] | None) -> dict[str, Any]:
        """What `$error` is for a job (`mock`: its `params.mock`): the spec's default, with `params.mock.error` as its
        message if given."""
        message = (mock or {}).get(ERROR)
        return self.lifecycle.worker_error(message if isinstance(message, str) else None)

    # -- seeding and the control API ---------------------------------------------------

    def new_uuid(self) -> str:
        """A version-4 UUID from the store's own generator (deterministic under a seed)."""
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, given: Mapping[str, Any], now_ms: int, *, client: bool = False) -> Job:
        """Add a job from its representation, filling what is missing consistently.

        Nothing of `given` is kept: it is encoded, and `params.mock` copied (see Job). A `client`'s job
        is held to the bounds of `mockserver.domain.budget` (OutOfBudget, JobTooLarge): starting data
        and saved state are the operator's.
        """
        if client:
            if len(self.jobs) >= MAX_JOBS:
                raise OutOfBudget(f"The store holds its maximum of {MAX_JOBS} jobs: delete some, or reset.")
            if self.account.budget is not None:
                self.account.budget.check(JOB_OVERHEAD)
        state = given.get(self.field, self.lifecycle.initial)
        if state not in self.lifecycle.states:
            raise BadRequest(f"{self.field}: {state!r} is not one of {', '.join(self.lifecycle.states)}")
        self._check_mock(given.get("params"))
        job_id = str(given.get("uuid") or self.new_uuid())
        if job_id in self.jobs:
            raise BadRequest(f"uuid: a job {job_id} already exists")
        self._own()
        fields: Fields = {
            "uuid": job_id,
            "title": str(given.get("title", "Mock job")),
            "description": str(given.get("description", "")),
            "params": given.get("params", {}),
            "actor": str(given.get("actor", "admin")),
            **{name: _ms(given.get(name), name) for name in self.stamp_names},
            self.field: self.lifecycle.initial,
            "result": given.get("result", {}),
        }
        for name in self._always_set:
            fields[name] = fields[name] or now_ms
        self._place(fields, state, now_ms, given=set(given))
        # Fresh copies, not parsed objects: what a job keeps must not pin the memory of the document it came from.
        # (params, and so params.mock, never change after this: the spec lists them as immutable.)
        job = Job(job_id.encode().decode(), fields[self.field], (), b"", copy.deepcopy(_mock(fields)))
        self._save(job, fields)
        if client and len(job.body) > MAX_JOB_BYTES:
            self.account.charge(-len(job.body))
            raise JobTooLarge(
                f"A job may take at most {MAX_JOB_BYTES // 1024} KB as JSON; this one takes {len(job.body) // 1024} KB."
            )
        self.account.charge(JOB_OVERHEAD)
        self.jobs[job.uuid] = job
        self._changed(job, now_ms)
        return job

    def _check_mock(self, params: Any) -> None:
        """BadRequest naming each `params.mock` setting the worker could not follow (a wait of 1e306 s, say)."""
        if isinstance(params, dict) and "mock" in params:
            problems = schema_problems(self._mock_settings, params["mock"], root="params.mock")
            if problems:
                raise BadRequest("; ".join(problems))

    def move(self, job_id: str, state: str, now_ms: int) -> Job:
        """Put a job in `state` directly, its fields made consistent with that state."""
        job = self.get(job_id)
        if state not in self.lifecycle.states:
            raise BadRequest(f"{self.field}: {state!r} is not one of {', '.join(self.lifecycle.states)}")
        if state != job.state:
            self._own()
            job = self.jobs[job_id]
            fields = self._open(job)
            self._place(fields, state, now_ms, given=set())
            self._save(job, fields)
            self._changed(job, now_ms)
        return job

    def _place(self, fields: Fields, state: str, now_ms: int, given: set[str]) -> None:
        """Put a working copy in `state` as jobspec's `settle` says, with this job's output and error; BadRequest if it cannot be."""
        mock = _mock(fields)
        try:
            settle(
                self.lifecycle,
                fields,
                state,
                now_ms,
                given=given,
                output=self._output(mock),
                error=self._error(mock),
            )
        except InconsistentJob:
            shown = {
                **fields,
                **{name: _ts(fields[name]) for name in self.stamp_names},
            }  # timestamps as a client sent them
            problems = "; ".join(invariant_problems(self.lifecycle, shown))
            raise BadRequest(f"job {fields['uuid']} would break the lifecycle: {problems}") from None

    def load(self, jobs: Iterable[Mapping[str, Any]], now_ms: int, *, client: bool = False) -> None:
        """Replace every job with these representations; BadRequest naming the first inconsistent one (a `client`'s
        jobs are held to the bounds, see `add`)."""
        self.jobs, self._due, self._shared, self._offset = {}, [], False, 0
        self._list_cache, self._cache_charged = None, 0
        self.account.release()
        self.revision += 1
        for index, fields in enumerate(jobs):
            try:
                self.add(fields, now_ms, client=client)
            except (BadRequest, JobTooLarge, OutOfBudget) as exc:  # the same refusal, naming the job
                raise type(exc)(f"{describe(index, fields)}: {exc.message}") from None

    def pending(self) -> dict[str, int]:
        """When the worker will next move each job that is waiting for it (uuid -> ms)."""
        return {
            job_id: due + self._offset for due, _, job_id, version in self._due
            if job_id in self.jobs and self.jobs[job_id].version == version
        }  # fmt: skip

    def share(self, template: JobStore, offset_ms: int) -> None:
        """Take `template`'s jobs and appointments without copying them, `offset_ms` later; copied on the first change.

        `template` must not change afterwards: its jobs are read here until this store owns copies.
        """
        self.jobs, self._due, self._sequence = template.jobs, template._due, template._sequence
        self.account.release()  # the template's jobs and list are counted once, as the template's
        self._list_cache, self._cache_charged = template.encoded_list(), 0
        self._templates, self._schedule_every = template._templates, template._schedule_every
        self._next_spawn = template._next_spawn + offset_ms
        self._shared, self._offset = True, offset_ms
        self.revision += 1

    @property
    def shared(self) -> bool:
        """Whether the jobs are still another store's (nothing has changed here yet)."""
        return self._shared

    def _own(self) -> None:
        """Copy the shared jobs and appointments before a first change (Job objects change in place)."""
        if self._shared:
            self.jobs = {
                key: Job(j.uuid, j.state, j.stamps, j.body, j.mock, j.version, j.python, j.changed)
                for key, j in self.jobs.items()
            }
            # The same offset on every entry keeps the heap a heap.
            self._due = [(due + self._offset, seq, key, version) for due, seq, key, version in self._due]
            self._shared, self._offset = False, 0
            self.account.charge(sum(JOB_OVERHEAD + len(job.body) for job in self.jobs.values()))  # on the safe side

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
        ms = round(parse_timestamp(str(value)) * 1000)
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not an ISO 8601 timestamp") from None
    if not EARLIEST_MS <= ms <= LATEST_MS:
        raise BadRequest(
            f"{name}: {value!r} is outside the times a job can carry, {_ts(EARLIEST_MS)} to {_ts(LATEST_MS)}"
        )
    return ms


def mock_settings_schema(lifecycle: Lifecycle) -> dict[str, Any]:
    """What `params.mock` may hold: the worker's waits (in seconds), the state to end in, the result, the error."""
    waits = {
        step.setting: {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_SECONDS,
            "description": f"Seconds the job waits in {step.state} before the worker moves it.",
        }
        for step in lifecycle.worker.values()
    }
    return {
        "type": "object",
        "description": "What the mock's worker does with this job (outside the contract).",
        "properties": {
            **waits,
            OUTCOME: {
                "enum": list(lifecycle.worker_ends()),
                "description": "The state the worker ends the job in (one it can end a job in).",
            },
            RESULT: {"type": "object", "description": "The job's result when it completes ($output)."},
            ERROR: {"type": "string", "description": "The error message when it fails ($error)."},
        },
    }


def _latest(stamps: Iterable[int | None]) -> int:
    return max([v for v in stamps if v is not None])


def _mock(fields: Fields) -> dict[str, Any] | None:
    params = fields.get("params")
    settings = params.get("mock") if isinstance(params, dict) else None
    return settings if isinstance(settings, dict) else None


def describe(index: int, entry: Any) -> str:
    """How a message names one entry of a list of jobs."""
    if isinstance(entry, dict) and "uuid" in entry:
        return f"job {index} ({entry['uuid']}, {entry.get('title', 'untitled')!r})"
    return f"job {index}"
