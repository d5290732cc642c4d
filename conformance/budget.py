"""What a run spends of a deployment's rate limits, told before the phases run rather than found at a 429.

Nick limits `@login` and `@login-renew` to 5 requests per 15 minutes per client address by
default (`AUTH_RATE_LIMIT`); the spec says which operations a limit counts (`x-rate-limit`). A
deployment tells what is left of a limit in `RateLimit-Remaining` on every answer it counts: when
the run would need more than is left, it stops before it starts, saying how many it needs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from conformance.options import Options
from conformance.phases import PHASES
from jobspec import Spec
from jobspec.loader import RateLimit
from verdicts.exchanges import Exchange


def planned(spec: Spec, options: Options, phases: Iterable[str]) -> Counter[str]:
    """About the requests the chosen phases send to each operation."""
    sent: Counter[str] = Counter()
    for name in phases:
        sent.update(PHASES[name].planned(spec, options))
    return sent


def remaining(limit: RateLimit, answers: Mapping[str, Exchange]) -> int | None:
    """What the deployment says is left of `limit`: the least `RateLimit-Remaining` of `answers` (operationId ->
    its latest answer) to the operations the limit counts."""
    left = [
        int(value)
        for name, exchange in answers.items()
        if name in limit.operations
        and (value := _header(exchange.response.headers, "RateLimit-Remaining")) is not None
        and value.isdigit()
    ]
    return min(left) if left else None


def problem(spec: Spec, options: Options, phases: Iterable[str], answers: Mapping[str, Exchange]) -> str | None:
    """Why the run cannot start within the deployment's rate limits, or None."""
    needs = planned(spec, options, phases)
    for limit in spec.rate_limits.values():
        left = remaining(limit, answers)
        needed = sum(needs[name] for name in limit.operations)
        if left is None or needed <= left:
            continue
        operations = " and ".join(spec.operation(name).path for name in limit.operations)
        return (
            f"this run sends about {needed} requests to {operations}, and the deployment allows this address "
            f"{left} more for now (RateLimit-Remaining): its rate limit {limit.setting} ({limit.describe()}) "
            f"would stop the run half-way. Raise it (Nick: {limit.setting}=1000, as Nick's own tests run)"
            + _fewer(spec, options, phases, limit, left)
        )
    return None


def _fewer(spec: Spec, options: Options, phases: Iterable[str], limit: RateLimit, left: int) -> str:
    """The ways to send fewer requests that would fit in what is left, if any."""
    ways, phases = [], tuple(phases)
    for name in phases:
        alone = sum(PHASES[name].planned(spec, options)[operation] for operation in limit.operations)
        if alone <= left and len(phases) > 1:
            ways.append(f"{options.flag('phases')} {name} alone sends " + (f"about {alone}" if alone else "none"))
    return f", or send fewer: {'; '.join(ways)}" if ways else ""


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)
