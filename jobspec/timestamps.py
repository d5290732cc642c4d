"""The spec's Timestamp: UTC ISO 8601 with milliseconds and `Z`, to and from milliseconds."""

from __future__ import annotations

import functools
import time
from datetime import datetime

LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: a Timestamp has four digits of year


@functools.lru_cache(maxsize=256)
def timestamp(ms: int) -> str:
    """Nick's timestamp of a time in milliseconds since the epoch (the last few remembered: under load, many changes
    fall in one millisecond)."""
    seconds, millis = divmod(ms, 1000)
    return f"{_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    """The date and time of a whole second: jobs changing in the same second share it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 timestamp (`Z` or an offset); ValueError otherwise."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def as_ms(value: object) -> int | None:
    """A timestamp as int milliseconds, whether given as milliseconds or as text; None if it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    try:
        return round(parse_timestamp(value) * 1000)
    except ValueError:
        return None
