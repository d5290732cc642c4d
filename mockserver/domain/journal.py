"""Bounded records of every request the mock answered, and of its own errors: ring buffers that count what they drop."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from mockserver.domain.budget import ENTRY_OVERHEAD, MAX_NOTE, Budget, Charged

T = TypeVar("T")

JOURNAL_SIZE = 10_000  # entries kept by default, and as many errors
DISCONNECTED = 499  # the status journaled when the client closed its connection before the answer (nginx's)


class Entry(NamedTuple):
    """One answered request (a named tuple: one is made per request, and a frozen dataclass costs several times more)."""

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


@dataclass(frozen=True)
class Query:
    """Which entries a journal query asks for; None matches anything."""

    operation: str | None = None
    job: str | None = None
    status: int | None = None
    method: str | None = None
    since: int = 0

    def matches(self, entry: Entry) -> bool:
        """Whether `entry` passes every filter given."""
        return (
            entry.seq > self.since
            and (self.operation is None or entry.operationId == self.operation)
            and (self.job is None or entry.jobId == self.job)
            and (self.status is None or entry.status == self.status)
            and (self.method is None or entry.method == self.method)
        )


class Ring(Generic[T]):
    """The newest `size` items, and how many older ones were dropped to keep to that size."""

    def __init__(self, size: int) -> None:
        self.items: deque[T] = deque(maxlen=size)
        self.dropped = 0

    def append(self, item: T) -> None:
        """Keep `item`, dropping the oldest when full."""
        if len(self.items) == self.items.maxlen:
            self.dropped += 1
        self.items.append(item)

    def clear(self) -> None:
        """Forget every item; what was dropped stays counted."""
        self.items.clear()

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Journal:
    """Entries in order and the mock's own errors apart, each the newest `size` kept."""

    def __init__(self, size: int = JOURNAL_SIZE, budget: Budget | None = None) -> None:
        # Entries are kept as plain tuples, made into `Entry`s when read: one is recorded per request.
        self._entries: deque[tuple[Any, ...]] = deque(maxlen=size)
        self.errors: Ring[MockError] = Ring(size)
        self.account = Charged(budget)  # what the entries and errors keep, against the mock's memory budget
        self._seq = 0  # the last entry's sequence number
        self._cleared = 0  # entries forgotten by `clear`, not dropped

    def record(
        self, method: str, path: str, operation_id: str | None, status: int, job_id: str | None, note: str
    ) -> None:
        """Note an answered request (`note`: faults applied, a forced response, a client that left); its path and note
        kept to MAX_NOTE characters. Past the memory budget, the oldest entries make room."""
        self._seq = seq = self._seq + 1
        if len(path) > MAX_NOTE:
            path = _bounded(path)
        if len(note) > MAX_NOTE:
            note = _bounded(note)
        entries = self._entries
        entry = (seq, time.time(), method, path, operation_id, status, job_id, note)
        cost = _cost(entry)
        if len(entries) == entries.maxlen:
            cost -= _cost(entries[0])  # the oldest, which makes room
        entries.append(entry)
        self.account.charge(cost)
        budget = self.account.budget
        while budget is not None and budget.spent and entries:
            self.account.charge(-_cost(entries.popleft()))  # counted as dropped: see `dropped`

    @property
    def entries(self) -> Iterator[Entry]:
        """The entries kept, oldest first."""
        return map(Entry._make, self._entries)

    @property
    def dropped(self) -> int:
        """How many older entries were dropped to keep to the size."""
        return self._seq - self._cleared - len(self._entries)

    def error(self, method: str, path: str, error: str) -> None:
        """Note one of the mock's own errors (its path kept to MAX_NOTE characters, its text to twice that)."""
        errors = self.errors.items
        if len(errors) == errors.maxlen:
            self.account.charge(-_error_cost(errors[0]))
        entry = MockError(time.time(), method, _bounded(path), _bounded(error, 2 * MAX_NOTE))
        self.errors.append(entry)
        self.account.charge(_error_cost(entry))

    def since(self, seq: int) -> list[dict[str, Any]]:
        """Entries after `seq`, as JSON objects."""
        return [entry._asdict() for entry in self.entries if entry.seq > seq]

    def query(self, query: Query) -> list[dict[str, Any]]:
        """The entries `query` matches, oldest first, as JSON objects."""
        return [entry._asdict() for entry in self.entries if query.matches(entry)]

    def count(self, query: Query) -> int:
        """How many entries `query` matches."""
        return sum(1 for entry in self.entries if query.matches(entry))

    def clear(self) -> None:
        """Forget every entry and error (sequence numbers and drop counts keep growing)."""
        self._cleared += len(self._entries)
        self._entries.clear()
        self.errors.clear()
        self.account.release()


def _bounded(text: str, limit: int = MAX_NOTE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cost(entry: tuple[Any, ...]) -> int:
    return ENTRY_OVERHEAD + len(entry[3]) + len(entry[7])


def _error_cost(error: MockError) -> int:
    return ENTRY_OVERHEAD + len(error.path) + len(error.error)
