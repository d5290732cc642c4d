"""One memory budget for everything clients can make the mock keep, across the mock and all its sessions.

What clients grow is counted in bytes, as kept: each job (its encoded body and a fixed share for
the objects around it), each store's cached list, each journal entry. The count is an estimate
on the safe side (a session's copy of the starting jobs is counted whole, though the bodies are
shared), so that what the budget allows the machine holds.

Past the budget, what would grow is refused and what can be forgotten is: a new job or session
is a 507 in Nick's shape (delete jobs or sessions, or reset, and it works again); a journal
drops its oldest entries (counted as dropped, as when it is full). Single things have their own
bounds: a job of more than `MAX_JOB_BYTES` encoded is a 413, a store of `MAX_JOBS` jobs takes
no more from clients (a 507), a journal entry keeps at most `MAX_NOTE` characters of its path and note.
"""

from __future__ import annotations

from mockserver.domain.errors import ApiError

MEMORY_BUDGET_MB = 1024  # the default of --memory-budget
MAX_JOB_BYTES = 256 * 1024  # a job's encoded representation
MAX_JOBS = 100_000  # jobs in one store (the mock's, or a session's) that clients may create
JOB_OVERHEAD = 300  # bytes counted per job beside its body: the objects that hold it, its place in the store
ENTRY_OVERHEAD = 200  # bytes counted per journal entry beside its path and note
MAX_NOTE = 1024  # characters of a journal entry's path, and of its note, kept


class OutOfBudget(ApiError):
    """A change that would grow the mock past its memory budget, or a store past MAX_JOBS: 507."""

    status = 507
    error_type = "Insufficient storage"


class JobTooLarge(ApiError):
    """A job whose encoded representation is larger than MAX_JOB_BYTES: 413."""

    status = 413
    error_type = "Payload too large"


class Budget:
    """Bytes counted against a limit; shared by the mock's state and every session's."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def charge(self, amount: int) -> None:
        """Count `amount` more bytes (fewer, when negative); never refuses: see `check`."""
        self.used += amount

    @property
    def spent(self) -> bool:
        """Whether the count is past the limit."""
        return self.used > self.limit

    def check(self, more: int = 0) -> None:
        """OutOfBudget when `more` bytes would take the count past the limit."""
        if self.used + more > self.limit:
            raise OutOfBudget(
                f"The mock's memory budget is spent ({self.used // 2**20} of {self.limit // 2**20} MB, "
                "--memory-budget): delete jobs or sessions, or reset, and try again."
            )


class Charged:
    """Something that counts what it keeps against a budget (None: against none), and can give it all back."""

    def __init__(self, budget: Budget | None) -> None:
        self.budget = budget
        self.charged = 0  # bytes counted for this so far

    def charge(self, amount: int) -> None:
        """Count `amount` more bytes kept here."""
        self.charged += amount
        if self.budget is not None:
            self.budget.charge(amount)

    def release(self) -> None:
        """Give back everything counted here (it is being forgotten)."""
        if self.budget is not None:
            self.budget.charge(-self.charged)
        self.charged = 0

    def move_to(self, budget: Budget | None) -> None:
        """Count what is kept here against `budget` from now on (a reload's new app)."""
        charged = self.charged
        self.release()
        self.budget = budget
        self.charge(charged)
