"""The load generator: wrk when installed, otherwise a small asyncio HTTP/1.1 client of our own.

Both drive one request shape (method, path, optional ids to walk through, optional JSON body,
bearer token) over N keep-alive connections for a fixed time, and return the same `LoadResult`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

WRK_SCRIPT = Path(__file__).with_name("wrk.lua")


@dataclass(frozen=True)
class Load:
    """One request shape and how hard to drive it."""

    method: str
    path: str  # may hold "{id}", filled from `ids` in turn
    ids: Path | None = None
    body: str = ""
    token: str = ""
    session: str = ""  # sent as X-Mock-Session when given
    connections: int = 32
    duration: float = 5.0
    timeout: float = 30.0
    tokens: Path | None = None  # a file of tokens, one per line: each request presents the next (instead of `token`)


@dataclass(frozen=True)
class LoadResult:
    """What one run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0
    bytes: int = 0

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def clean(self) -> bool:
        """Every request answered 2xx, none failed at the socket."""
        return self.requests > 0 and not self.non_2xx and not self.socket_errors


class LoadError(RuntimeError):
    """The load generator failed to run or to report."""


Generator = Callable[[str, Load], LoadResult]


def choose(prefer: str = "auto") -> tuple[str, Generator]:
    """The generator to use and its name: wrk if present (or asked for), else the Python one."""
    wrk = shutil.which("wrk")
    if prefer == "wrk" and not wrk:
        raise LoadError("wrk is not installed (apt-get install wrk)")
    if prefer != "python" and wrk:
        return f"wrk ({wrk_version(wrk)}, 1 thread)", run_wrk
    return (
        "python-asyncio (benchmarks/load.py, wrk not installed)" if prefer == "auto" else "python-asyncio",
        run_python,
    )


def wrk_version(wrk: str) -> str:
    """wrk's version line, e.g. `wrk debian/4.1.0-3+b2`."""
    run = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    return " ".join((run.stdout or run.stderr).split()[:2])


def run_wrk(base_url: str, load: Load) -> LoadResult:
    """Drive `load` with wrk, one thread (the other core is the server's), latency from its histogram."""
    command = [
        "wrk",
        "-t1",
        f"-c{load.connections}",
        f"-d{max(1, round(load.duration))}s",
        f"--timeout={max(1, round(load.timeout))}s",
        "-s",
        str(WRK_SCRIPT),
        base_url,
        "--",
        load.method,
        load.path,
        str(load.ids) if load.ids else "-",
        load.body,
        f"@{load.tokens}" if load.tokens else load.token,
        load.session,
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=load.duration + load.timeout + 30)
    for line in run.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            data = json.loads(line.removeprefix("WRK_RESULT "))
            return LoadResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                non_2xx=data["non_2xx"],
                socket_errors=data["socket_errors"] + data["timeouts"],
                bytes=data["bytes"],
            )
    raise LoadError(f"wrk reported nothing (exit {run.returncode}): {run.stderr.strip() or run.stdout.strip()}")


def run_python(base_url: str, load: Load) -> LoadResult:
    """Drive `load` with the asyncio client: one task per connection, requests back to back."""
    return asyncio.run(_drive(base_url, load))


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    non_2xx: int = 0
    socket_errors: int = 0
    bytes: int = 0


async def _drive(base_url: str, load: Load) -> LoadResult:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    ids = [line for line in load.ids.read_text().splitlines() if line] if load.ids else []
    tokens = [line for line in load.tokens.read_text().splitlines() if line] if load.tokens else []
    counter = iter(range(1 << 62))
    tally = _Tally()
    started = time.perf_counter()
    deadline = started + load.duration

    def next_request() -> bytes:
        number = next(counter)
        path = load.path.replace("{id}", ids[number % len(ids)]) if ids else load.path
        token = tokens[number % len(tokens)] if tokens else load.token
        return _request_bytes(load, path, f"{host}:{port}", token)

    workers = [_connection(host, port, next_request, deadline, load.timeout, tally) for _ in range(load.connections)]
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started
    ordered = sorted(tally.latencies)
    return LoadResult(
        requests=len(ordered),
        seconds=elapsed,
        p50_ms=_percentile(ordered, 50) * 1000,
        p99_ms=_percentile(ordered, 99) * 1000,
        non_2xx=tally.non_2xx,
        socket_errors=tally.socket_errors,
        bytes=tally.bytes,
    )


def _request_bytes(load: Load, path: str, host: str, token: str) -> bytes:
    lines = [f"{load.method} {path} HTTP/1.1", f"Host: {host}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if load.session:
        lines.append(f"X-Mock-Session: {load.session}")
    body = load.body.encode()
    if body or load.method in ("POST", "PUT", "PATCH"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    host: str, port: int, next_request: Callable[[], bytes], deadline: float, timeout: float, tally: _Tally
) -> None:
    """One keep-alive connection sending requests back to back until the deadline."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            assert reader is not None
            sent = time.perf_counter()
            writer.write(next_request())
            status, size, keep = await asyncio.wait_for(_read_response(reader), timeout)
            tally.latencies.append(time.perf_counter() - sent)
            tally.bytes += size
            if not 200 <= status < 300:
                tally.non_2xx += 1
            if not keep:
                writer.close()
                writer = None
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            tally.socket_errors += 1
            if writer is not None:
                writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    """Read one response; its status, size in bytes and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    size = len(head)
    if "content-length" in headers:
        size += len(await reader.readexactly(int(headers["content-length"])))
    elif headers.get("transfer-encoding") == "chunked":
        size += await _read_chunked(reader)
    elif status not in (204, 304) and headers.get("connection") == "close":
        size += len(await reader.read())
    return status, size, headers.get("connection") != "close"


async def _read_chunked(reader: asyncio.StreamReader) -> int:
    size = 0
    while True:
        length = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        size += len(await reader.readexactly(length + 2))
        if length == 0:
            return size


def _percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
