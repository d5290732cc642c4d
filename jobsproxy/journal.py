"""The proxy's journal: violations and notes in the order they were found, secrets masked, each echoed as one line.

Written by the checks' thread, read by the live page on the event loop: every access holds a lock.
It keeps the newest entries in full (`--journal-size`), and counts every one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from jobspec.timestamps import timestamp
from jobsproxy.config import JOURNAL_SIZE
from verdicts.exchanges import MIN_SECRET, VARIABLE_PREFIX
from verdicts.results import Finding

SECRETS_KEPT = 10_000  # secrets masked, the newest (an older token is long expired)
VIOLATION = "violation"
NOTE = "note"
Echo = Callable[[str], None]


class Secrets:
    """Tokens and passwords seen in the traffic, shown as shell variables wherever the proxy writes."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def keep(self, secret: str, variable: str = "TOKEN") -> None:
        """Mask `secret` from now on (too short a one would mask unrelated text)."""
        if len(secret) >= MIN_SECRET and secret not in self.values:
            self.values[secret] = VARIABLE_PREFIX + variable
            if len(self.values) > SECRETS_KEPT:
                del self.values[next(iter(self.values))]

    def redact(self, text: str) -> str:
        """`text` with every kept secret replaced by its variable."""
        for secret, variable in self.values.items():
            if secret in text:
                text = text.replace(secret, variable)
        return text

    def clean(self, value: Any) -> Any:
        """A JSON-able value with every kept secret replaced, at any depth."""
        return json.loads(self.redact(json.dumps(value)))


class Journal:
    """Every violation and note, numbered, the newest `size` kept; `echo` prints each as it is found."""

    def __init__(self, echo: Echo | None = None, *, size: int = JOURNAL_SIZE) -> None:
        self.echo = echo
        self.secrets = Secrets()
        self.entries: deque[dict[str, Any]] = deque(maxlen=size)
        self.counts = {VIOLATION: 0, NOTE: 0}
        self.lock = threading.Lock()

    def violation(self, finding: Finding, *, exchange: int, job: str | None = None) -> None:
        """Record a violation found in exchange number `exchange`."""
        entry = {"kind": VIOLATION, "exchange": exchange, "job": job, **asdict(finding)}
        self._add(
            entry, f"VIOLATION {finding.check} [{finding.operation}]: {_request(finding)}: {_first(finding.message)}"
        )

    def note(self, message: str, *, exchange: int | None = None, request: str = "") -> None:
        """Record something the checks could not judge, or the client's own departure from the spec."""
        entry = {"kind": NOTE, "exchange": exchange, "message": message, "request": request}
        self._add(entry, f"note: {request + ': ' if request else ''}{message}")

    def _add(self, entry: dict[str, Any], line: str) -> None:
        entry = self.secrets.clean(entry)
        with self.lock:
            self.counts[entry["kind"]] += 1
            entry = {"seq": sum(self.counts.values()), "time": timestamp(int(time.time() * 1000)), **entry}
            self.entries.append(entry)  # the oldest goes, past the bound
        if self.echo is not None:
            self.echo(self.secrets.redact(line))

    def since(self, seq: int = 0, kind: str | None = None) -> list[dict[str, Any]]:
        """The entries after number `seq`, of one kind or all."""
        with self.lock:
            return [e for e in self.entries if e["seq"] > seq and (kind is None or e["kind"] == kind)]

    def count(self, kind: str) -> int:
        """How many entries of a kind were found, also those past the journal's bound."""
        with self.lock:
            return self.counts[kind]

    def forgotten(self) -> int:
        """How many entries were let go to keep the newest."""
        with self.lock:
            return sum(self.counts.values()) - len(self.entries)


def _request(finding: Finding) -> str:
    request, response = finding.request or {}, finding.response or {}
    return f"{request.get('method', '?')} {request.get('url', '?')} -> {response.get('status', '?')}"


def _first(message: str) -> str:
    lines = message.splitlines()
    return lines[0] + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "")
