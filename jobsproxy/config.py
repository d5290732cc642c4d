"""What a proxy is told: its upstream, where it listens, what it checks and where it reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8081
DEFAULT_MAX_CHECK_BYTES = 10 * 1024 * 1024
# Seconds an exchange may hold the checks up: a body still streaming after it is judged without its body, and an
# answer waits no longer than this for the requests that overlapped it (one that never ends blinds no other).
CHECK_WINDOW = 30.0
UPSTREAM_TIMEOUT = 30.0  # seconds for the upstream's status and headers, once the request has gone
REQUEST_TIMEOUT = 10.0  # seconds for a client's request line and headers, and again for its body
IDLE_TIMEOUT = 60.0  # seconds a kept-alive client connection may wait for its next request
JOURNAL_SIZE = 10_000  # violations and notes kept in full, the newest; the counts are always exact
MAX_JOBS = 10_000  # jobs whose history the proxy keeps, the most recently seen


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
    upstream_timeout: float = UPSTREAM_TIMEOUT
    request_timeout: float = REQUEST_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides loopback, the listen address and IP addresses
    journal_size: int = JOURNAL_SIZE
    max_jobs: int = MAX_JOBS
    shared: bool = False  # other clients act on the upstream's jobs too
    quiet: bool = False  # no line per violation as it happens
