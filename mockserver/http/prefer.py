"""`Prefer: code=…` and `Prefer: example=…`, as Prism users know them: the spec's own responses on demand."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from jobspec import Lifecycle, Operation
from mockserver.domain.errors import PreferRefused

PREFERENCE = re.compile(r"\s*(code|example)\s*=\s*\"?([^\",;]+)\"?\s*")


@dataclass(frozen=True)
class Forced:
    """A documented response chosen by the client: status, body (None for no body) and its example's name."""

    status: int
    body: Any
    example: str | None
    named: bool = False  # the client named the example: it gets it verbatim
    headers: dict[str, str] = field(default_factory=dict)  # the documented headers, with their examples


def preferences(header: str) -> dict[str, str]:
    """`code` and `example` from a Prefer header (other preferences are ignored)."""
    found = {}
    for part in re.split(r"[,;]", header):
        match = PREFERENCE.fullmatch(part)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def forced_response(operation: Operation, header: str) -> Forced | None:
    """The documented response the Prefer header asks for, None if it asks for none, BadRequest if undocumented."""
    wanted = preferences(header)
    if not wanted:
        return None
    responses = operation.responses
    code = wanted.get("code")
    if code is not None and code not in responses:
        documented = ", ".join(sorted(responses))
        raise PreferRefused(
            f"Prefer: code={code} is not documented for {operation.operation_id}; documented: {documented}"
        )
    codes = [code] if code is not None else sorted(responses)
    name = wanted.get("example")
    for candidate in codes:
        examples = _examples(responses[candidate])
        if name is None:
            first = next(iter(examples.items()), None)
            if first is None and _has_body(responses[candidate]):
                raise PreferRefused(f"the spec documents no example for {operation.operation_id} {candidate}")
            headers = _headers(operation, candidate)
            return Forced(int(candidate), first[1] if first else None, first[0] if first else None, headers=headers)
        if name in examples:
            return Forced(int(candidate), examples[name], name, named=True, headers=_headers(operation, candidate))
    known = sorted({n for c in codes for n in _examples(responses[c])})
    raise PreferRefused(
        f"Prefer: example={name} is not documented for {operation.operation_id}; examples: {', '.join(known)}"
    )


def about_job(forced: Forced, lifecycle: Lifecycle, operation_id: str, job_id: str, state: str) -> Forced:
    """A forced refusal of an existing job, told in the job's own terms: the refusal its state really gets, or
    (where the operation would succeed) the refusal's message with the job's real id and state."""
    refusals = [r for r in lifecycle.refusals if r.operation == operation_id and r.status == forced.status]
    if forced.named or not refusals:
        return forced
    refusal = next((r for r in refusals if state in r.states), refusals[0])
    return replace(forced, body=refusal.body(job_id, state))


def _examples(response: dict[str, Any]) -> dict[str, Any]:
    content = response.get("content") or {}
    media: dict[str, Any] = next(iter(content.values()), {})
    return {name: example["value"] for name, example in (media.get("examples") or {}).items()}


def _headers(operation: Operation, status: str) -> dict[str, str]:
    """The headers a documented response carries, each as its example; PreferRefused for a required one without."""
    headers = {}
    for name, header in (operation.responses[status].get("headers") or {}).items():
        example = header.get("example", next(iter(header.get("schema", {}).get("examples") or []), None))
        if example is not None:
            headers[name] = str(example)
        elif header.get("required"):
            raise PreferRefused(f"the spec documents no example of {name} for {operation.operation_id} {status}")
    return headers


def _has_body(response: dict[str, Any]) -> bool:
    return bool(response.get("content"))
