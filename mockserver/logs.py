"""The mock's log lines: plain text for people, or one JSON object per line for log collectors."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """A record as one JSON object on one line: time (RFC 3339, UTC), level, logger, message, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's JSON line."""
        return line(record.levelname, record.name, record.getMessage(), record.created, self._trace(record))

    def _trace(self, record: logging.LogRecord) -> dict[str, Any]:
        if record.exc_info:
            return {"exception": self.formatException(record.exc_info)}
        return {}


def line(level: str, logger: str, message: str, created: float, extra: dict[str, Any] | None = None) -> str:
    """One JSON log line (newlines in the message stay escaped inside the string)."""
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields = {"time": stamp, "level": level, "logger": logger, "message": message, **(extra or {})}
    return json.dumps(fields, ensure_ascii=False)


def configure(level: str, fmt: str) -> None:
    """Send the mock's logs to stderr at `level`, in `fmt` ('text' or 'json'), unless logging is already set up.

    As `logging.basicConfig` does: a host that configured logging (pytest, an embedding program) keeps its own.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
