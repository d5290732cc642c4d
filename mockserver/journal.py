"""A bounded record of every request the mock answered, and of its own errors."""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

JOURNAL_SIZE = 10_000


@dataclass(frozen=True)
class Entry:
    """One answered request."""

    seq: int
    time: float
    method: str
    path: str
    operationId: str | None  # noqa: N815 - the JSON name
    status: int
    jobId: str | None  # noqa: N815 - the JSON name
    note: str = ""


@dataclass(frozen=True)
class MockError:
    """An unexpected exception in the mock, or a response that broke the spec in strict mode."""

    time: float
    method: str
    path: str
    error: str


class Journal:
    """Entries in order, the newest `JOURNAL_SIZE` kept; the mock's own errors kept apart."""

    def __init__(self) -> None:
        self.entries: deque[Entry] = deque(maxlen=JOURNAL_SIZE)
        self.errors: list[MockError] = []
        self._seq = itertools.count(1)

    def record(
        self, method: str, path: str, operation_id: str | None, status: int, job_id: str | None, note: str
    ) -> None:
        """Note an answered request (`note`: faults applied, a forced response)."""
        self.entries.append(Entry(next(self._seq), time.time(), method, path, operation_id, status, job_id, note))

    def error(self, method: str, path: str, error: str) -> None:
        """Note one of the mock's own errors."""
        self.errors.append(MockError(time.time(), method, path, error))

    def since(self, seq: int) -> list[dict[str, Any]]:
        """Entries after `seq`, as JSON objects."""
        return [asdict(entry) for entry in self.entries if entry.seq > seq]

    def clear(self) -> None:
        """Forget every entry and error (sequence numbers keep growing)."""
        self.entries.clear()
        self.errors.clear()
