"""Rate limits as Nick's express-rate-limit keeps them: per client address, a fixed window, 429 past the limit.

Which operations share a limit, its window, its 429 body and the setting that names it come from
the spec (`x-rate-limit` on a 429); how many requests a window allows is the mock's `--rate-limit
SETTING=N`. Without it the mock sets no limit: a frontend's test run logs in far more often than
Nick's default 5 per 15 minutes allows (a deliberate difference, see docs).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from jobspec import Spec
from jobspec.loader import RateLimit
from mockserver.domain.errors import ApiError

MAX_ADDRESSES = 100_000  # client addresses counted at once per limit; beyond, the longest-idle are forgotten


class UnknownLimit(ValueError):
    """A `--rate-limit` naming a setting the spec does not have."""


@dataclass
class Window:
    """One client address's count in the current window."""

    hits: int
    resets: float  # time.monotonic() when the window ends


class Limiter:
    """One limit (a setting of the spec) at `allowed` requests per window, counted per client address."""

    def __init__(self, limit: RateLimit, allowed: int) -> None:
        self.limit, self.allowed = limit, allowed
        self.windows: OrderedDict[str, Window] = OrderedDict()

    def hit(self, address: str, now: float) -> Window:
        """Count one request from `address`; its window as it stands now."""
        window = self.windows.get(address)
        if window is None or window.resets <= now:
            window = Window(0, now + self.limit.window)
            self.windows[address] = window
            if len(self.windows) > MAX_ADDRESSES:
                self.windows.popitem(last=False)
        self.windows.move_to_end(address)
        window.hits += 1  # express-rate-limit counts every request, the refused ones too
        return window

    def headers(self, window: Window, now: float) -> dict[str, str]:
        """express-rate-limit's `standardHeaders` (draft 6): the policy, the limit, what is left and when it resets."""
        reset = str(max(0, min(self.limit.window, math.ceil(window.resets - now))))  # floats: never window + 1
        return {
            "RateLimit-Policy": f"{self.allowed};w={self.limit.window}",
            "RateLimit-Limit": str(self.allowed),
            "RateLimit-Remaining": str(max(0, self.allowed - window.hits)),
            "RateLimit-Reset": reset,
        }


class TooManyRequests(ApiError):
    """Past a rate limit: the spec's documented 429 body, with `Retry-After`."""

    status = 429
    deliberate = True  # the client's doing, answered as the spec documents: strict mode lets it pass

    def __init__(self, body: object, headers: Mapping[str, str]) -> None:
        super().__init__(str(body))
        self.answer, self.extra = body, dict(headers)

    def body(self) -> dict[str, object]:
        return self.answer if isinstance(self.answer, dict) else {"message": str(self.answer)}

    def headers(self) -> dict[str, str]:
        return self.extra


class Limits:
    """The limits the mock enforces, by the operations they count."""

    def __init__(self, spec: Spec, allowed: Mapping[str, int]) -> None:
        unknown = sorted(set(allowed) - set(spec.rate_limits))
        if unknown:
            known = ", ".join(spec.rate_limits) or "none"
            raise UnknownLimit(f"--rate-limit: the spec has no rate limit {', '.join(unknown)} (its limits: {known})")
        self.by_operation: dict[str, Limiter] = {}
        for setting, count in allowed.items():
            limiter = Limiter(spec.rate_limits[setting], count)
            for operation in limiter.limit.operations:
                self.by_operation[operation] = limiter

    def fresh(self) -> Limits:
        """The same limits with no counts (a session's own)."""
        copy = Limits.__new__(Limits)
        limiters = {id(limiter): Limiter(limiter.limit, limiter.allowed) for limiter in self.by_operation.values()}
        copy.by_operation = {name: limiters[id(limiter)] for name, limiter in self.by_operation.items()}
        return copy

    def clear(self) -> None:
        """Forget every count."""
        for limiter in self.by_operation.values():
            limiter.windows.clear()

    def check(self, operation: str | None, address: str) -> dict[str, str] | None:
        """Count a request of a limited operation from a client address: the headers its answer carries;
        TooManyRequests past the limit."""
        limiter = self.by_operation.get(operation) if operation is not None else None
        if limiter is None:
            return None
        now = time.monotonic()
        window = limiter.hit(address, now)
        headers = limiter.headers(window, now)
        if window.hits > limiter.allowed:
            raise TooManyRequests(limiter.limit.body, {**headers, "Retry-After": headers["RateLimit-Reset"]})
        return headers
