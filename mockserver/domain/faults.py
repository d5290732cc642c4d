"""Faults on demand: latency, a chosen status, a dropped connection, a trickled body."""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import asdict, dataclass
from typing import Any

from mockserver.domain.errors import ApiError, BadRequest

KINDS = ("latency", "status", "drop", "trickle")


class InjectedFault(ApiError):
    """The status a fault forces, in Nick's shape."""

    error_type = "Injected fault"
    deliberate = True

    def __init__(self, status: int, fault_id: int) -> None:
        super().__init__(f"jobs-mock answered {status} on purpose (fault {fault_id}).")
        self.status = status


@dataclass
class Fault:
    """One injected fault; `operation` None means every operation, `count` None means until removed."""

    id: int
    operation: str | None = None
    latency: tuple[float, float] | None = None
    status: int | None = None
    drop: bool = False
    trickle: tuple[int, float] | None = None
    count: int | None = None

    def describe(self) -> str:
        """A short account for the journal."""
        parts = [f"latency {self.latency[0]}-{self.latency[1]} s"] if self.latency else []
        parts += [f"status {self.status}"] if self.status else []
        parts += ["dropped connection"] if self.drop else []
        parts += [f"trickle {self.trickle[0]} B every {self.trickle[1]} s"] if self.trickle else []
        return f"fault {self.id}: " + ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The fault as the control API shows it."""
        return {key: value for key, value in asdict(self).items() if value not in (None, False)}


class Faults:
    """The faults in force, matched against each request's operation."""

    def __init__(self, operations: frozenset[str]) -> None:
        self.operations = operations
        self.active: list[Fault] = []
        self._ids = itertools.count(1)
        self.rng = random.Random()

    def add(self, data: Any) -> Fault:
        """A fault from its JSON description; BadRequest naming what is wrong."""
        if not isinstance(data, dict) or not any(k in data for k in KINDS):
            raise BadRequest(f"a fault needs at least one of {', '.join(KINDS)}")
        unknown = sorted(set(data) - {*KINDS, "operation", "count"})
        if unknown:
            raise BadRequest(f"unknown fault fields {unknown}")
        nulls = sorted(key for key, value in data.items() if value is None)
        if nulls:
            raise BadRequest(f"{nulls[0]}: expected a value, got null (leave it out instead)")
        fault = Fault(
            id=next(self._ids),
            operation=self._operation(data.get("operation")),
            latency=_latency(data.get("latency")),
            status=_status(data.get("status")),
            drop=_flag(data.get("drop")),
            trickle=_trickle(data.get("trickle")),
            count=_count(data.get("count")),
        )
        self.active.append(fault)
        return fault

    def take(self, operation_id: str) -> list[Fault]:
        """The faults that apply to one request of `operation_id`, each used up by one."""
        taken = [f for f in self.active if f.operation in (None, operation_id)]
        for fault in taken:
            if fault.count is not None:
                fault.count -= 1
        self.active = [f for f in self.active if f.count is None or f.count > 0]
        return taken

    async def delay(self, faults: list[Fault]) -> None:
        """Sleep as long as the faults' latencies say (their sum)."""
        seconds = sum(self.rng.uniform(*f.latency) for f in faults if f.latency)
        if seconds:
            await asyncio.sleep(seconds)

    def remove(self, fault_id: int) -> bool:
        """Remove one fault; whether it existed."""
        before = len(self.active)
        self.active = [f for f in self.active if f.id != fault_id]
        return len(self.active) < before

    def clear(self) -> None:
        """Remove every fault."""
        self.active.clear()

    def _operation(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or value not in self.operations:
            raise BadRequest(f"operation: {value!r} is not one of {', '.join(sorted(self.operations))}")
        return str(value)


def _number(value: Any, where: str, low: float, high: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequest(f"{where}: expected a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _whole(value: Any, where: str, low: int, high: int) -> int:
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())  # JSON's 3.0 is 3
    if not whole or isinstance(value, bool) or not low <= value <= high:
        raise BadRequest(f"{where}: expected a whole number from {low} to {high}, got {value!r}")
    return int(value)


def _latency(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 2:
        low, high = (_number(v, "latency", 0, 600) for v in value)
        if low > high:
            raise BadRequest("latency: the range must go from low to high")
        return low, high
    seconds = _number(value, "latency", 0, 600)
    return seconds, seconds


def _status(value: Any) -> int | None:
    # A 1xx is no final answer (a client would wait for the real one): only statuses a response can end with.
    return None if value is None else _whole(value, "status", 200, 599)


def _flag(value: Any) -> bool:
    if value is not None and not isinstance(value, bool):  # 0 == False, but 0 is no answer to a yes-or-no question
        raise BadRequest(f"drop: expected true or false, got {value!r}")
    return bool(value)


def _trickle(value: Any) -> tuple[int, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest('trickle: expected {"bytes": N, "interval": seconds}')
    unknown = sorted(set(value) - {"bytes", "interval"})
    if unknown:
        raise BadRequest(f"trickle: unknown fields {unknown}")
    return _whole(value.get("bytes", 16), "trickle.bytes", 1, 1 << 20), _number(
        value.get("interval", 0.1), "trickle.interval", 0, 60
    )


def _count(value: Any) -> int | None:
    return None if value is None else _whole(value, "count", 1, 1 << 31)


def parse_latency(text: str) -> dict[str, Any]:
    """`--latency 0.2` or `--latency 0.1-0.5` as a fault description."""
    low, _, high = text.partition("-")
    try:
        values = [float(low), float(high)] if high else float(low)
    except ValueError:
        raise ValueError(f"--latency: expected SECONDS or MIN-MAX, got {text!r}") from None
    return {"latency": values}
