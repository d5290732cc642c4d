"""Read the OpenAPI document, resolve its references and expose its operations and lifecycle."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from jobspec.files import CannotRead, FileProblem, read_yaml
from jobspec.lifecycle import Lifecycle, LifecycleError

LIFECYCLE_KEY = "x-job-lifecycle"
RATE_LIMIT_KEY = "x-rate-limit"  # on a 429 response: {setting, window, default}
TOO_MANY = "429"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class SpecError(ValueError):
    """The spec file cannot be read, or is not an OpenAPI document this kit understands."""


@dataclass(frozen=True)
class Operation:
    """One operation of the spec, with its path-level parameters merged in and refs resolved."""

    operation_id: str
    method: str
    path: str
    definition: dict[str, Any]

    @property
    def responses(self) -> dict[str, Any]:
        """The documented responses, keyed by status code as a string."""
        return dict(self.definition.get("responses", {}))

    @property
    def documented_statuses(self) -> frozenset[int]:
        """The numeric status codes the operation documents."""
        return frozenset(int(code) for code in self.responses if code.isdigit())

    def needs_auth(self, spec_security: list[dict[str, Any]]) -> bool:
        """Whether a call must carry credentials (no anonymous alternative in its security)."""
        security = self.definition.get("security", spec_security)
        return bool(security) and all(requirement for requirement in security)


@dataclass(frozen=True)
class RateLimit:
    """A limit a deployment puts on some operations, counted per client address over a window; past it, 429."""

    setting: str  # the deployment's setting that raises it (Nick: AUTH_RATE_LIMIT)
    window: int  # seconds
    default: int  # requests per window and client address, unless the setting says otherwise
    operations: tuple[str, ...]  # the operations that share the count
    body: Any = None  # the 429's documented example, if it has one

    def describe(self) -> str:
        """The default limit in words: "5 per 15 minutes by default"."""
        window = f"{self.window // 60} minutes" if self.window % 60 == 0 else f"{self.window} seconds"
        return f"{self.default} per {window} by default"


@dataclass(frozen=True)
class Spec:
    """A loaded spec: the raw document, its dereferenced form, and the typed lifecycle."""

    path: Path
    raw: dict[str, Any]
    resolved: dict[str, Any]
    lifecycle: Lifecycle
    operations: dict[str, Operation]
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)  # by setting
    source: str | None = None  # the text it was read from

    def rate_limit(self, operation_id: str) -> RateLimit | None:
        """The rate limit `operation_id` counts toward, if any."""
        return next((limit for limit in self.rate_limits.values() if operation_id in limit.operations), None)

    @property
    def security(self) -> list[dict[str, Any]]:
        """The document-wide security requirements."""
        return list(self.resolved.get("security", []))

    def operation(self, operation_id: str) -> Operation:
        """The operation with this operationId."""
        try:
            return self.operations[operation_id]
        except KeyError:
            raise SpecError(f"the spec has no operation {operation_id!r}") from None

    def promises_405(self, path: str) -> bool:
        """Whether a method `path` does not declare answers 405 with `Allow`: only where an operation of the path
        documents a 405 (Nick promises neither: its own answer is a 404)."""
        return any(op.path == path and 405 in op.documented_statuses for op in self.operations.values())

    def schema(self, name: str) -> dict[str, Any]:
        """A component schema, references resolved."""
        return dict(self.resolved["components"]["schemas"][name])

    def text(self) -> str:
        """The document as its file held it when it was read."""
        return self.source if self.source is not None else self.path.read_text(encoding="utf-8")


def packaged_spec_path() -> Path:
    """Where the installed package keeps `jobs.yaml`."""
    return Path(str(resources.files("jobspec").joinpath("jobs.yaml")))


def load_spec(path: str | Path | None = None) -> Spec:
    """Load the spec at `path`, or the packaged one; the packaged one is read only once."""
    if path is None:
        return _load_packaged()
    return _load(Path(path))


@functools.cache
def _load_packaged() -> Spec:
    return _load(packaged_spec_path())


def _load(path: Path) -> Spec:
    return spec_from_document(*read_spec_file(path), path)


def read_spec_file(path: Path) -> tuple[str, Any]:
    """The text of the spec file at `path` and its YAML value, read with the bounds of `jobspec.files`; SpecError."""
    try:
        return read_yaml(path)
    except CannotRead as exc:
        raise SpecError(f"cannot read the spec {path}: {exc.reason}") from None
    except FileProblem as exc:
        raise SpecError(str(exc)) from None


def spec_from_document(text: str, raw: Any, path: Path) -> Spec:
    """The spec a document read from `path` describes; SpecError (or LifecycleError) saying what is wrong with it."""
    if not isinstance(raw, dict) or not str(raw.get("openapi", "")).startswith("3."):
        raise SpecError(f"{path} is not an OpenAPI 3 document")
    try:
        return _spec(text, raw, path)
    except RecursionError:
        raise SpecError(f"{path} is nested too deeply") from None


def _spec(text: str, raw: dict[str, Any], path: Path) -> Spec:
    resolved = resolve_refs(raw)
    operations = _collect_operations(resolved)
    if LIFECYCLE_KEY not in raw:
        raise LifecycleError(f"{path} has no {LIFECYCLE_KEY} section")
    try:
        job = resolved["components"]["schemas"]["Job"]["properties"]
    except (KeyError, TypeError):
        raise SpecError(f"{path} has no components.schemas.Job with properties") from None
    lifecycle = Lifecycle.from_dict(raw[LIFECYCLE_KEY], operations=frozenset(operations), job_fields=frozenset(job))
    _check_status_enum(lifecycle, job)
    _check_documented(lifecycle, operations)
    limits = _rate_limits(operations)
    return Spec(path, raw, resolved, lifecycle, operations, rate_limits=limits, source=text)


def _rate_limits(operations: dict[str, Operation]) -> dict[str, RateLimit]:
    """The `x-rate-limit` of every documented 429, by setting; operations naming one setting share its count."""
    limits: dict[str, RateLimit] = {}
    for operation in operations.values():
        response = operation.responses.get(TOO_MANY)
        if not isinstance(response, dict) or response.get(RATE_LIMIT_KEY) is None:
            continue
        data = response[RATE_LIMIT_KEY]
        where = f"{operation.operation_id} responses.{TOO_MANY}.{RATE_LIMIT_KEY}"
        setting, window, default = (data.get(key) if isinstance(data, dict) else None for key in _LIMIT_KEYS)
        if not isinstance(setting, str) or not setting or not isinstance(window, int) or not isinstance(default, int):
            raise SpecError(f"{where}: expected {{setting: NAME, window: SECONDS, default: N}}, got {data!r}")
        if not _count(window) or not _count(default):
            raise SpecError(f"{where}: the window and the default must be whole numbers from 1 to 10**9, got {data!r}")
        known = limits.get(setting)
        if known is not None and (known.window, known.default) != (window, default):
            raise SpecError(f"{where}: {setting} has another window or default in {known.operations[0]}")
        examples = response.get("content", {}).get("application/json", {}).get("examples", {})
        body = next((example.get("value") for example in examples.values() if isinstance(example, dict)), None)
        before = known.operations if known else ()
        limits[setting] = RateLimit(setting, window, default, (*before, operation.operation_id), body)
    return limits


_LIMIT_KEYS = ("setting", "window", "default")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10**9


def _check_status_enum(lifecycle: Lifecycle, job: dict[str, Any]) -> None:
    """The Job schema's status values must be exactly the lifecycle's states."""
    where = f"components.schemas.Job.properties.{lifecycle.status_field}.enum"
    enum = job[lifecycle.status_field].get("enum")
    if not isinstance(enum, list):
        raise LifecycleError(f"{where}: missing; it must list the lifecycle's states {list(lifecycle.states)}")
    if set(enum) != set(lifecycle.states) or len(enum) != len(lifecycle.states):
        raise LifecycleError(f"{where}: {enum} disagrees with the states of x-job-lifecycle {list(lifecycle.states)}")


def _check_documented(lifecycle: Lifecycle, operations: dict[str, Operation]) -> None:
    """Every status the lifecycle says an operation answers must be documented by that operation."""
    removal = lifecycle.removal
    answers = [(t.trigger.operation, t.status, f"transitions ({t.name})") for t in lifecycle.client_transitions()]
    answers += [(r.operation, r.status, f"refusals ({r.operation})") for r in lifecycle.refusals]
    answers += [(removal.operation, removal.status, "removal")]
    answers += [(op, removal.afterwards_status, "removal.afterwards") for op in removal.afterwards_operations]
    for operation, status, where in answers:
        documented = operations[str(operation)].documented_statuses
        if status not in documented:
            raise LifecycleError(
                f"x-job-lifecycle.{where}: {operation} answers {status}, which the operation does not document "
                f"(documented: {sorted(documented)})"
            )


def _collect_operations(resolved: dict[str, Any]) -> dict[str, Operation]:
    operations: dict[str, Operation] = {}
    for path, item in resolved.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            if method not in item:
                continue
            definition = dict(item[method])
            definition["parameters"] = [*shared, *definition.get("parameters", [])]
            operation_id = definition.get("operationId")
            if not operation_id:
                raise SpecError(f"{method.upper()} {path} has no operationId")
            operations[operation_id] = Operation(operation_id, method.upper(), path, definition)
    return operations


def resolve_refs(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of `document` with every local `$ref` replaced by what it points at."""

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise SpecError(f"circular reference {ref} (a schema that contains itself cannot be resolved)")
            target = resolve(copy.deepcopy(_pointer(document, ref)), (*seen, ref))
            siblings = {k: resolve(v, seen) for k, v in node.items() if k != "$ref"}
            return {**target, **siblings} if isinstance(target, dict) else target
        return {key: resolve(value, seen) for key, value in node.items()}

    return dict(resolve(document, ()))


def _pointer(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise SpecError(f"only local references are supported, not {ref}")
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise SpecError(f"unresolvable reference {ref}") from None
    return node
