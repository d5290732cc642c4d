"""Request and response checks compiled once per operation from the spec.

The hot path uses jsonschema-rs validators built at start-up. In strict mode every response is
also checked by openapi-core, the reference implementation, so the two must agree. A spec file
given on the command line is checked by openapi-spec-validator first. This module is the only
one that imports either.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import jsonschema_rs
from multidict import CIMultiDict
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_spec_validator import OpenAPIV31SpecValidator

from jobspec import Operation, Spec, SpecError
from jobspec.loader import resolve_refs
from mockserver.domain import documents
from mockserver.domain.errors import BadRequest

JSON = "application/json"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where, what, and whether it is a missing value."""

    where: str
    message: str
    missing: bool = False


class RequestInvalid(BadRequest):
    """A request the spec refuses; `problems` says every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.where}: {p.message}" if p.where else p.message for p in problems))
        self.problems = problems

    @property
    def only_missing(self) -> bool:
        """Whether every problem is a missing or empty value (Nick's 'Missing credentials')."""
        return all(problem.missing for problem in self.problems)


@dataclass(frozen=True)
class ResponseRule:
    """What a documented response must be: its media type (None: no body) and body schema."""

    media_type: str | None
    validator: Any = None


@dataclass
class OperationValidator:
    """Checks for one operation, compiled from its definition."""

    body_required: bool = False
    body: Any = None
    responses: dict[str, ResponseRule] = field(default_factory=dict)  # by status code, range ("4XX") or "default"

    def parse_body(self, raw: bytes, content_type: str) -> Any:
        """The request's JSON body, checked against the spec; RequestInvalid naming each problem."""
        if self.body is None:
            return None
        data = self.parse_json(raw, content_type)
        if data is None:
            if self.body_required:
                raise RequestInvalid([Problem("body", "a JSON body is required", missing=True)])
            return None
        if not self.body.is_valid(data):
            raise RequestInvalid([_problem(error) for error in self.body.iter_errors(data)])
        return data

    def parse_json(self, raw: bytes, content_type: str) -> Any:
        """The request's body as JSON (None when there is none), not yet checked against the spec.

        A body sent without `Content-Type: application/json` (none, or another), or as JSON that is
        not UTF-8, is refused: Nick's body parser leaves it unread, and its handlers then fail.
        """
        if not raw.strip():
            return None
        if content_type != JSON:  # as clients mostly send it, nothing more to read of it
            self._json_type(content_type)
        try:
            return documents.loads(raw)
        except documents.DocumentError as exc:
            raise RequestInvalid([Problem("", str(exc))]) from None

    @staticmethod
    def _json_type(content_type: str) -> None:
        """RequestInvalid unless `content_type` is JSON in UTF-8."""
        media, _, parameters = content_type.partition(";")
        charset = next((p.split("=", 1)[1].strip().lower() for p in parameters.split(";") if "charset=" in p), "utf-8")
        if media.strip() != JSON:
            sent = media.strip() or "none"
            raise RequestInvalid([Problem("Content-Type", f"{sent}; a JSON body is sent as {JSON}")])
        if charset.strip('"') not in ("utf-8", "utf8"):
            raise RequestInvalid([Problem("Content-Type", f"the charset {charset} is not UTF-8")])

    def response_problems(self, status: int, content_type: str | None, body: bytes) -> list[str]:
        """Every way a response departs from the spec (empty when it conforms)."""
        code = str(status)
        rule = self.responses.get(code) or self.responses.get(f"{code[0]}XX") or self.responses.get("default")
        if rule is None:
            return [f"status {status} is not documented (documented: {', '.join(sorted(self.responses))})"]
        if rule.media_type is None:
            return [f"a {status} has no body, got {len(body)} bytes"] if body else []
        if content_type != rule.media_type:
            return [f"Content-Type {content_type!r} is not the documented {rule.media_type!r}"]
        try:
            data = json.loads(body)
        except ValueError:
            return ["the body is not valid JSON"]
        return [f"body{_path(e)}: {e.message}" for e in rule.validator.iter_errors(data)] if rule.validator else []


def compile_validators(spec: Spec) -> dict[str, OperationValidator]:
    """One OperationValidator per operationId."""
    return {operation_id: _compile(operation) for operation_id, operation in spec.operations.items()}


def compile_schema(schema: dict[str, Any]) -> Any:
    """A fast validator for one (dereferenced) schema, formats included."""
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def schema_problems(validator: Any, data: Any, root: str | None = None) -> list[str]:
    """The messages of every error `validator` finds in `data`, each with its place (`/a/0`, or `root.a[0]`)."""
    if root is None:
        return [f"{_path(error) or '/'}: {error.message}" for error in validator.iter_errors(data)]
    problems = []
    for error in validator.iter_errors(data):
        place = _dotted(root, error.instance_path)
        problems.append(f"{place}: {error.message}" if place else error.message)
    return problems


def _dotted(root: str, parts: Any) -> str:
    return (root + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)).lstrip(".")


def _compile(operation: Operation) -> OperationValidator:
    checks = OperationValidator()
    body = operation.definition.get("requestBody")
    if body:
        checks.body_required = bool(body.get("required", False))
        checks.body = compile_schema(body["content"][JSON]["schema"])
    for code, response in operation.responses.items():
        content = response.get("content") or {}
        if not content:
            checks.responses[code.upper()] = ResponseRule(None)
            continue
        media_type, media = next(iter(content.items()))
        schema = media.get("schema")
        checks.responses[code.upper()] = ResponseRule(media_type, compile_schema(schema) if schema else None)
    return checks


def openapi_problem(document: Any) -> str | None:
    """What makes `document` no valid OpenAPI 3.1 document (the first problem, with its place), or None."""
    version = document.get("openapi") if isinstance(document, dict) else None
    if not str(version).startswith("3.1."):
        return f"openapi: {version!r} is not 3.1.x: this kit reads OpenAPI 3.1 documents"
    try:
        errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    except RecursionError:  # the validator follows $refs without noticing a circle: jobspec's resolver names it
        try:
            resolve_refs(document)
        except SpecError as exc:
            return str(exc)
        return "nested too deeply to validate"
    if not errors:
        return None
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{errors[0].json_path}: {errors[0].message}{more}"


def _problem(error: Any) -> Problem:
    kind = type(error.kind).__name__
    missing = kind.endswith("Required") or kind.endswith("MinLength")
    return Problem(_path(error).lstrip("/") or "body", error.message, missing)


def _path(error: Any) -> str:
    return "".join(f"/{part}" for part in error.instance_path)


class ReferenceValidator:
    """openapi-core's verdict on a response, for strict mode (slow; built once)."""

    def __init__(self, spec: Spec) -> None:
        self.openapi = OpenAPI.from_dict(cast("Mapping[Hashable, Any]", spec.raw))
        servers = spec.resolved.get("servers") or [{"url": "http://localhost"}]  # OpenAPI's own default is "/"
        self.server = str(servers[0]["url"]).rstrip("/")

    def response_problems(self, method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> list[str]:
        """Every problem openapi-core finds in this response to `method path`."""
        request = _CoreRequest(self.server, path, method.lower())
        response = _CoreResponse(status, headers, body)
        try:
            self.openapi.validate_response(request, response)
        except Exception as exc:  # openapi-core reports through a tree of exception types
            return [_core_message(exc)]
        return []


def _core_message(exc: BaseException) -> str:
    """A one-line account of an openapi-core error: its type and each schema error's message."""
    parts = [type(exc).__name__]
    while exc is not None:
        errors = getattr(exc, "schema_errors", None) or []
        parts += [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors] or ([str(exc)] if str(exc) else [])
        exc = exc.__cause__  # type: ignore[assignment]
    return "; ".join(dict.fromkeys(parts))


class _CoreRequest:
    """The request side openapi-core needs to find the operation (the spec's own server URL)."""

    def __init__(self, host_url: str, path: str, method: str) -> None:
        self.host_url, self.path, self.method = host_url, path, method
        self.parameters = RequestParameters()
        self.body: bytes | None = None
        self.content_type = JSON


class _CoreResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = CIMultiDict(headers)
        self.content_type = headers.get("Content-Type", "").split(";")[0].strip()
        self.data = body or None
