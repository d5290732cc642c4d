"""The job lifecycle of `x-job-lifecycle` as typed data, validated when it is read."""

from __future__ import annotations

import dataclasses
import math
import random
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ChangeKind = Literal["now", "output", "error", "value"]
TOKENS: dict[str, ChangeKind] = {"$now": "now", "$output": "output", "$error": "error"}
FIELD_RULES = {"null": False, "set": True}
MAX_SECONDS = 10**9  # about 31 years: the longest wait the worker's timings may name
MESSAGE_FIELDS = frozenset({"id", "state"})  # what a refusal's message template may name
SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_SETTINGS = frozenset({"outcome", "result", "error"})  # params.mock keys with other meanings


class LifecycleError(ValueError):
    """The lifecycle section is malformed; the message names the place and the problem."""


@dataclass(frozen=True)
class Change:
    """What a transition sets one field to: the time, the work's output or error, or a value."""

    kind: ChangeKind
    value: Any = None


@dataclass(frozen=True)
class Trigger:
    """Who moves a job: the server's worker (`operation` None) or a client's operation."""

    operation: str | None = None
    status: int | None = None

    @property
    def is_worker(self) -> bool:
        """Whether the server's worker fires this transition by itself."""
        return self.operation is None


@dataclass(frozen=True)
class Transition:
    """One edge of the lifecycle."""

    name: str
    source: str
    target: str
    trigger: Trigger
    changes: Mapping[str, Change]
    effect: str = ""

    @property
    def status(self) -> int:
        """The status the triggering operation answers (client transitions only)."""
        if self.trigger.status is None:
            raise LifecycleError(f"{self.name} is the worker's transition: it answers no request")
        return self.trigger.status


@dataclass(frozen=True)
class Refusal:
    """An operation refused from some states: the status answered and Nick's error body.

    Nick's body is `{"error": message}`; with an `error_type`, its typed shape
    `{"error": {"type": error_type, "message": message}}`.
    """

    operation: str
    states: frozenset[str]
    status: int
    error_type: str | None = None
    description: str = ""
    template: str = "Job {id} is {state}."

    def message(self, job_id: str, state: str) -> str:
        """The refusal's message for one job, from the spec's template."""
        return self.template.format(id=job_id, state=state)

    def body(self, job_id: str, state: str) -> dict[str, Any]:
        """Nick's error body for refusing this operation on one job."""
        message = self.message(job_id, state)
        return {"error": message if self.error_type is None else {"type": self.error_type, "message": message}}

    def body_problems(self, body: Any, state: str) -> list[str]:
        """What a refusal's body received lacks: the shape the spec gives it, and the job's state in its message."""
        error = body.get("error") if isinstance(body, dict) else None
        if self.error_type is None:
            if not isinstance(error, str):
                return [f'Received body {body!r} / Documented: Nick\'s {{"error": "<message>"}}']
            return self.message_problems(error, state)
        found = error.get("type") if isinstance(error, dict) else None
        if found != self.error_type:
            return [f"Received error type {found!r} / Documented: {self.error_type!r}"]
        return self.message_problems(error.get("message") if isinstance(error, dict) else None, state)

    def message_problems(self, message: Any, state: str) -> list[str]:
        """What a refusal's message received lacks: the job's state, where the template names it."""
        names = {name for _, name, _, _ in string.Formatter().parse(self.template) if name}
        if "state" not in names or (isinstance(message, str) and state in message):
            return []
        return [f"Received error message {message!r} / Documented: a message naming the job's state, {state!r}"]


@dataclass(frozen=True)
class Removal:
    """The operation that deletes a job, and what answers for the job afterwards."""

    operation: str
    status: int
    states: frozenset[str]
    afterwards_status: int
    afterwards_operations: tuple[str, ...]
    listed_by: str


@dataclass(frozen=True)
class WorkerStep:
    """What the server's worker does by default with a job in one state: when, and to which state."""

    state: str
    after: tuple[float, float]  # seconds of mock time, drawn uniformly
    setting: str  # the `params.mock` key that overrides `after` for one job
    outcomes: tuple[tuple[Transition, float], ...]  # each worker transition from `state`, with its probability

    def choose(self, rng: random.Random, wanted: Any = None) -> Transition:
        """The transition the worker fires: the one to `wanted` if there is one, else drawn by probability."""
        for transition, _ in self.outcomes:
            if transition.target == wanted:
                return transition
        if len(self.outcomes) == 1:
            return self.outcomes[0][0]
        draw = rng.random()
        for transition, weight in self.outcomes:
            draw -= weight
            if draw < 0:
                return transition
        return next(t for t, weight in reversed(self.outcomes) if weight > 0)

    def seconds(self, rng: random.Random, override: Any, speed: float = 1.0) -> float:
        """How long a job waits in this state: `override` when it is a valid wait, else drawn and scaled by `speed`."""
        if valid_seconds(override):
            return float(override)
        return rng.uniform(*self.after) / speed


def valid_seconds(value: Any) -> bool:
    """Whether `value` is a wait the worker can keep: a finite number of seconds from 0 to MAX_SECONDS."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_SECONDS
    )


@dataclass(frozen=True)
class StateRule:
    """A state, and which timestamp fields are set (True) or null (False) in it."""

    name: str
    description: str
    fields: Mapping[str, bool]


@dataclass(frozen=True)
class Invariants:
    """The invariants that hold at every observation of a job."""

    ordered_timestamps: tuple[str, ...]
    immutable_fields: tuple[str, ...]
    list_ignores: tuple[str, ...]
    descriptions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lifecycle:
    """States, transitions, refusals, removal and invariants of a job."""

    status_field: str
    initial: str
    terminal: frozenset[str]
    states: Mapping[str, StateRule]
    transitions: tuple[Transition, ...]
    refusals: tuple[Refusal, ...]
    removal: Removal
    invariants: Invariants
    worker: Mapping[str, WorkerStep] = field(default_factory=dict)
    worker_output: Mapping[str, Any] = field(default_factory=dict)
    worker_error_default: Mapping[str, Any] = field(default_factory=dict)
    # The fields the Job schema documents, when parsed beside it: the rules about a job's fields speak of
    # these (empty: of every field). Context from the spec, not part of the lifecycle: not compared.
    job_fields: frozenset[str] = field(default=frozenset(), compare=False)
    # What `outcome` found for each (operation, state) asked about: it is asked on every request that acts on a job.
    _outcomes: dict[tuple[str, str], Transition | Refusal | Removal] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @classmethod
    def from_dict(
        cls,
        data: Any,
        *,
        operations: frozenset[str] | None = None,
        job_fields: frozenset[str] | None = None,
    ) -> Lifecycle:
        """Parse and validate a lifecycle section; raise LifecycleError naming any problem."""
        return _Parser(operations, job_fields).lifecycle(data)

    def worker_transitions(self, state: str) -> tuple[Transition, ...]:
        """The transitions the worker may fire from `state`."""
        return tuple(t for t in self.transitions if t.source == state and t.trigger.is_worker)

    def worker_step(self, state: str) -> WorkerStep | None:
        """What the worker does by default with a job in `state`; None when it never moves one from there."""
        return self.worker.get(state)

    def worker_error(self, message: str | None = None) -> dict[str, Any]:
        """The `$error` a failing job gets: the spec's default, its text replaced by `message` when given."""
        if message is None:
            return dict(self.worker_error_default)
        return {key: message if isinstance(value, str) else value for key, value in self.worker_error_default.items()}

    def worker_ends(self) -> tuple[str, ...]:
        """The terminal states the worker itself can end a job in, in the order of the states."""
        ends = {t.target for t in self.transitions if t.trigger.is_worker and t.target in self.terminal}
        return tuple(state for state in self.states if state in ends)

    def client_transitions(self) -> tuple[Transition, ...]:
        """The transitions a client triggers with an operation."""
        return tuple(t for t in self.transitions if not t.trigger.is_worker)

    def client_operations(self) -> tuple[str, ...]:
        """Every operation but the removal that a transition or a refusal mentions, in order of appearance."""
        names = [t.trigger.operation for t in self.client_transitions()]
        names += [r.operation for r in self.refusals]
        return tuple(dict.fromkeys(name for name in names if name and name != self.removal.operation))

    def job_operations(self) -> tuple[str, ...]:
        """Every operation that acts on one job by the lifecycle: the client operations, then the removal."""
        return (*self.client_operations(), self.removal.operation)

    def outcome(self, operation: str, state: str) -> Transition | Refusal | Removal:
        """What `operation` does to a job in `state`: the transition it fires, the removal, or its refusal."""
        known = self._outcomes.get((operation, state))
        if known is None:
            known = self._outcomes[operation, state] = self._find_outcome(operation, state)
        return known

    def _find_outcome(self, operation: str, state: str) -> Transition | Refusal | Removal:
        for transition in self.transitions:
            if transition.source == state and transition.trigger.operation == operation:
                return transition
        if operation == self.removal.operation and state in self.removal.states:
            return self.removal
        for refusal in self.refusals:
            if refusal.operation == operation and state in refusal.states:
                return refusal
        raise LifecycleError(f"the lifecycle says nothing of {operation} on a {state} job")

    def successors(self, state: str) -> frozenset[str]:
        """States one transition away from `state`."""
        return frozenset(t.target for t in self.transitions if t.source == state)

    def reachable(self, state: str) -> frozenset[str]:
        """States reachable from `state` by zero or more transitions."""
        return _closure(state, self.successors)

    def worker_reachable(self, state: str) -> frozenset[str]:
        """States the worker alone can take a job in `state` to, in zero or more steps."""
        return _closure(state, lambda s: frozenset(t.target for t in self.worker_transitions(s)))

    def can_follow(self, before: str, after: str) -> bool:
        """Whether a job seen in `before` may later be seen in `after`."""
        return after in self.reachable(before)

    def path(self, source: str, target: str) -> tuple[Transition, ...] | None:
        """The shortest chain of transitions from `source` to `target` (first declared first); None if none."""
        paths: dict[str, tuple[Transition, ...]] = {source: ()}
        frontier = [source]
        while frontier and target not in paths:
            following = []
            for state in frontier:
                for transition in self.transitions:
                    if transition.source == state and transition.target not in paths:
                        paths[transition.target] = (*paths[state], transition)
                        following.append(transition.target)
            frontier = following
        return paths.get(target)


def _closure(state: str, successors: Any) -> frozenset[str]:
    seen, frontier = {state}, [state]
    while frontier:
        for successor in successors(frontier.pop()) - seen:
            seen.add(successor)
            frontier.append(successor)
    return frozenset(seen)


class _Parser:
    """Reads one lifecycle section; every error names its place in the YAML."""

    def __init__(self, operations: frozenset[str] | None, job_fields: frozenset[str] | None):
        self.operations = operations
        self.job_fields = job_fields

    def lifecycle(self, data: Any) -> Lifecycle:
        data = _mapping(data, "x-job-lifecycle")
        states = self.states(data.get("states"))
        initial = _state(data.get("initial"), states, "x-job-lifecycle.initial")
        terminal = frozenset(
            _state(name, states, f"x-job-lifecycle.terminal[{i}]")
            for i, name in enumerate(_list(data.get("terminal"), "x-job-lifecycle.terminal"))
        )
        transitions = self.transitions(data.get("transitions"), states)
        refusals = self.refusals(data.get("refusals"), states)
        lifecycle = Lifecycle(
            status_field=self.field(_text(data.get("field"), "x-job-lifecycle.field"), "x-job-lifecycle.field"),
            initial=initial,
            terminal=terminal,
            states=states,
            transitions=transitions,
            refusals=refusals,
            removal=self.removal(data.get("removal"), states),
            invariants=self.invariants(data.get("invariants")),
            job_fields=self.job_fields or frozenset(),
        )
        _check_graph(lifecycle)
        worker = _mapping(data.get("worker"), "x-job-lifecycle.worker")
        lifecycle = dataclasses.replace(
            lifecycle,
            worker=self.worker_steps(worker.get("states"), states, transitions),
            worker_output=_mapping(worker.get("output", {}), "x-job-lifecycle.worker.output"),
            worker_error_default=_worker_error(worker.get("error"), transitions),
        )
        return lifecycle

    def worker_steps(
        self, data: Any, states: Mapping[str, StateRule], transitions: tuple[Transition, ...]
    ) -> dict[str, WorkerStep]:
        where = "x-job-lifecycle.worker.states"
        data = _mapping(data, where)
        moving = {t.source for t in transitions if t.trigger.is_worker}
        for name in data:
            _state(name, states, f"{where}.{name}")
        missing = sorted(moving - set(data), key=list(states).index)
        if missing:
            raise LifecycleError(f"{where}: no defaults for {missing}, where the worker moves jobs")
        steps = {name: _worker_step(name, body, transitions, f"{where}.{name}") for name, body in data.items()}
        settings = [step.setting for step in steps.values()]
        duplicates = sorted({s for s in settings if settings.count(s) > 1})
        if duplicates:
            raise LifecycleError(f"{where}: the setting names {duplicates} are used by several states")
        return steps

    def states(self, data: Any) -> dict[str, StateRule]:
        data = _mapping(data, "x-job-lifecycle.states")
        if not data:
            raise LifecycleError("x-job-lifecycle.states: no states are defined")
        return {name: self.state(name, body) for name, body in data.items()}

    def state(self, name: str, body: Any) -> StateRule:
        where = f"x-job-lifecycle.states.{name}"
        body = _mapping(body, where)
        fields = {}
        for field_name, rule in _mapping(body.get("fields", {}), f"{where}.fields").items():
            self.field(field_name, f"{where}.fields")
            key = "null" if rule is None else rule
            if key not in FIELD_RULES:
                raise LifecycleError(f"{where}.fields.{field_name}: {rule!r} is neither null nor 'set'")
            fields[field_name] = FIELD_RULES[key]
        return StateRule(name, str(body.get("description", "")), fields)

    def transitions(self, data: Any, states: Mapping[str, StateRule]) -> tuple[Transition, ...]:
        items = _list(data, "x-job-lifecycle.transitions")
        transitions = tuple(self.transition(i, item, states) for i, item in enumerate(items))
        names = [t.name for t in transitions]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise LifecycleError(f"x-job-lifecycle.transitions: duplicate names {duplicates}")
        return transitions

    def transition(self, index: int, data: Any, states: Mapping[str, StateRule]) -> Transition:
        where = f"x-job-lifecycle.transitions[{index}]"
        data = _mapping(data, where)
        name = _text(data.get("name"), f"{where}.name")
        where = f"x-job-lifecycle.transitions[{index}] ({name})"
        changes = _mapping(data.get("changes", {}), f"{where}.changes")
        return Transition(
            name=name,
            source=_state(data.get("from"), states, f"{where}.from"),
            target=_state(data.get("to"), states, f"{where}.to"),
            trigger=self.trigger(data.get("trigger"), f"{where}.trigger"),
            changes={key: self.change(key, value, f"{where}.changes") for key, value in changes.items()},
            effect=str(data.get("effect", "")),
        )

    def trigger(self, data: Any, where: str) -> Trigger:
        if data == "worker":
            return Trigger()
        if not isinstance(data, dict):
            raise LifecycleError(f"{where}: {data!r} is neither 'worker' nor {{operation, status}}")
        return Trigger(
            self.operation(data.get("operation"), f"{where}.operation"), _status(data.get("status"), f"{where}.status")
        )

    def change(self, name: str, value: Any, where: str) -> Change:
        self.field(name, where)
        if isinstance(value, str) and value.startswith("$"):
            if value not in TOKENS:
                raise LifecycleError(f"{where}.{name}: unknown token {value!r} (known: {sorted(TOKENS)})")
            return Change(TOKENS[value])
        return Change("value", value)

    def refusals(self, data: Any, states: Mapping[str, StateRule]) -> tuple[Refusal, ...]:
        return tuple(
            self.refusal(f"x-job-lifecycle.refusals[{i}]", item, states)
            for i, item in enumerate(_list(data, "x-job-lifecycle.refusals"))
        )

    def refusal(self, where: str, data: Any, states: Mapping[str, StateRule]) -> Refusal:
        data = _mapping(data, where)
        return Refusal(
            operation=self.operation(data.get("operation"), f"{where}.operation"),
            states=_states(data.get("from"), states, f"{where}.from"),
            status=_status(data.get("status"), f"{where}.status"),
            error_type=None if data.get("errorType") is None else _text(data.get("errorType"), f"{where}.errorType"),
            description=str(data.get("description", "")),
            template=_template(data.get("message", Refusal.template), f"{where}.message"),
        )

    def removal(self, data: Any, states: Mapping[str, StateRule]) -> Removal:
        where = "x-job-lifecycle.removal"
        data = _mapping(data, where)
        after = _mapping(data.get("afterwards"), f"{where}.afterwards")
        operations = _list(after.get("operations"), f"{where}.afterwards.operations")
        return Removal(
            operation=self.operation(data.get("operation"), f"{where}.operation"),
            status=_status(data.get("status"), f"{where}.status"),
            states=_states(data.get("from"), states, f"{where}.from"),
            afterwards_status=_status(after.get("status"), f"{where}.afterwards.status"),
            afterwards_operations=tuple(
                self.operation(op, f"{where}.afterwards.operations[{i}]") for i, op in enumerate(operations)
            ),
            listed_by=self.operation(after.get("listedBy"), f"{where}.afterwards.listedBy"),
        )

    def invariants(self, data: Any) -> Invariants:
        where = "x-job-lifecycle.invariants"
        data = _mapping(data, where)
        sections = {name: _mapping(body, f"{where}.{name}") for name, body in data.items()}

        def fields(section: str, key: str = "fields") -> tuple[str, ...]:
            values = _list(sections.get(section, {}).get(key, []), f"{where}.{section}.{key}")
            return tuple(self.field(str(v), f"{where}.{section}.{key}") for v in values)

        return Invariants(
            ordered_timestamps=fields("orderedTimestamps"),
            immutable_fields=fields("immutableFields"),
            list_ignores=fields("listAgreesWithItem", "ignore"),
            descriptions={name: str(body.get("description", "")) for name, body in sections.items()},
        )

    def operation(self, name: Any, where: str) -> str:
        name = _text(name, where)
        if self.operations is not None and name not in self.operations:
            raise LifecycleError(f"{where}: {name!r} is not an operationId of the spec")
        return str(name)

    def field(self, name: str, where: str) -> str:
        if self.job_fields is not None and name not in self.job_fields:
            raise LifecycleError(f"{where}: {name!r} is not a field of the Job schema")
        return name


def _check_graph(lifecycle: Lifecycle) -> None:
    unreachable = set(lifecycle.states) - lifecycle.reachable(lifecycle.initial)
    if unreachable:
        raise LifecycleError(
            f"x-job-lifecycle: states {sorted(unreachable)} cannot be reached from {lifecycle.initial!r}"
        )
    for transition in lifecycle.transitions:
        if transition.trigger.is_worker and transition.source in lifecycle.terminal:
            raise LifecycleError(
                f"x-job-lifecycle.transitions ({transition.name}): the worker cannot move a job "
                f"out of the terminal state {transition.source!r}"
            )
    for operation in lifecycle.job_operations():
        _check_total(lifecycle, operation)


def _check_total(lifecycle: Lifecycle, operation: str) -> None:
    """Every state must either fire exactly one transition for `operation`, remove the job, or refuse it."""
    removal = lifecycle.removal
    for state in lifecycle.states:
        fired = [t.name for t in lifecycle.transitions if t.source == state and t.trigger.operation == operation]
        fired += ["removal"] if operation == removal.operation and state in removal.states else []
        refused = [r for r in lifecycle.refusals if r.operation == operation and state in r.states]
        if len(fired) + len(refused) != 1:
            problem = (
                "neither fires a transition nor is refused"
                if not fired and not refused
                else (
                    f"is both allowed ({', '.join(fired)}) and refused"
                    if refused
                    else f"fires several transitions {fired}"
                )
            )
            raise LifecycleError(f"x-job-lifecycle: {operation} on a {state!r} job {problem}")


def _worker_step(state: str, data: Any, transitions: tuple[Transition, ...], where: str) -> WorkerStep:
    data = _mapping(data, where)
    own = {t.name: t for t in transitions if t.source == state and t.trigger.is_worker}
    if not own:
        raise LifecycleError(f"{where}: the worker never moves a job from {state!r}")
    after = data.get("after")
    bounds = after if isinstance(after, list) else [after, after]
    if len(bounds) != 2 or not all(valid_seconds(b) for b in bounds) or bounds[0] > bounds[1]:
        raise LifecycleError(
            f"{where}.after: expected seconds or [min, max] from 0 to {MAX_SECONDS}, min <= max; got {after!r}"
        )
    setting = data.get("setting")
    if not isinstance(setting, str) or not SETTING.match(setting) or setting in RESERVED_SETTINGS:
        raise LifecycleError(
            f"{where}.setting: expected a params.mock key other than {sorted(RESERVED_SETTINGS)}, got {setting!r}"
        )
    outcomes = _mapping(data.get("outcomes"), f"{where}.outcomes")
    if set(outcomes) != set(own):
        raise LifecycleError(
            f"{where}.outcomes: expected a probability for each of {sorted(own)}, got {sorted(outcomes)}"
        )
    for name, weight in outcomes.items():
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 <= weight <= 1:
            raise LifecycleError(f"{where}.outcomes.{name}: expected a probability from 0 to 1, got {weight!r}")
    if not math.isclose(sum(outcomes.values()), 1.0, abs_tol=1e-9):
        raise LifecycleError(f"{where}.outcomes: the probabilities add up to {sum(outcomes.values()):g}, not 1")
    return WorkerStep(
        state=state,
        after=(float(bounds[0]), float(bounds[1])),
        setting=setting,
        outcomes=tuple((own[name], float(weight)) for name, weight in outcomes.items()),
    )


def _worker_error(value: Any, transitions: tuple[Transition, ...]) -> dict[str, Any]:
    where = "x-job-lifecycle.worker.error"
    uses = any(change.kind == "error" for t in transitions for change in t.changes.values())
    if value is None and not uses:
        return {}
    error = _mapping(value, where)
    if not any(isinstance(item, str) for item in error.values()):
        raise LifecycleError(f"{where}: expected an object with a text member for the error's message, got {error!r}")
    return error


def _template(value: Any, where: str) -> str:
    text = _text(value, where)
    try:
        names = {name for _, name, spec, conversion in string.Formatter().parse(text) if name is not None}
        plain = all(not spec and not conversion for _, name, spec, conversion in string.Formatter().parse(text))
    except ValueError as exc:
        raise LifecycleError(f"{where}: {exc} in {text!r}") from None
    if not names <= MESSAGE_FIELDS or not plain:
        raise LifecycleError(f"{where}: a template may name only {{id}} and {{state}}, got {text!r}")
    return text


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LifecycleError(f"{where}: expected a mapping, got {_kind(value)}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise LifecycleError(f"{where}: expected a list, got {_kind(value)}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise LifecycleError(f"{where}: expected a non-empty string, got {_kind(value)}")
    return value


def _status(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        raise LifecycleError(f"{where}: expected an HTTP status code, got {value!r}")
    return value


def _state(value: Any, states: Mapping[str, StateRule], where: str) -> str:
    if value not in states:
        raise LifecycleError(f"{where}: {value!r} is not a state (states: {', '.join(states)})")
    return str(value)


def _states(value: Any, states: Mapping[str, StateRule], where: str) -> frozenset[str]:
    return frozenset(_state(item, states, f"{where}[{i}]") for i, item in enumerate(_list(value, where)))


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"
