"""What a proxy is told: its upstream, where it listens, what it checks and where it reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8081
DEFAULT_MAX_CHECK_BYTES = 10 * 1024 * 1024
CHECK_WINDOW = 30.0  # seconds a response may stream before its check gives up on the body


@dataclass(frozen=True)
class ProxyConfig:
    """The proxy's settings, whichever front end (CLI, LiveProxy) made them."""

    upstream: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    spec: Path | None = None
    report: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None
    fail_on_violation: bool = False
    max_check_bytes: int = DEFAULT_MAX_CHECK_BYTES
    check_window: float = CHECK_WINDOW
    shared: bool = False  # other clients act on the upstream's jobs too
    quiet: bool = False  # no line per violation as it happens
