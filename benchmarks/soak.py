"""`python -m benchmarks.soak --seconds 120`: the mock under a bounded, mixed, hostile load on loopback.

Readers list and read jobs; sessions log in, renew and log out; storms fire concurrent aborts and
retries at one job; the control API is driven; and meanwhile sockets sit idle, trickle their
headers a byte at a time, or leave in the middle of a request. A probe asks for the spec four
times a second throughout. The mock's resident memory is sampled every second: it must stay flat
(the journal and errors are bounded rings, revocations expire, connections time out), every
answer must be other than a 5xx, the mock must report no error of its own, and the probe must
never go unanswered. Exit 0 when all of that holds, 1 otherwise, 2 if the soak could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from benchmarks import servers
from benchmarks.scenarios import acting_state
from jobspec import load_spec

MOCK_OPTIONS = ("--request-timeout", "1", "--idle-timeout", "3", "--journal-size", "2000", "--speed", "20")
FLAT_MB = 8.0  # resident growth allowed after the warm-up: rings filling up, allocator slack
JSON = {"Content-Type": "application/json"}
LIFECYCLE = load_spec().lifecycle
ABORTABLE, RETRYABLE = acting_state("abortJob"), acting_state("retryJob")
HELD = {"params": {"mock": {step.setting: 86400 for step in LIFECYCLE.worker.values()}}}  # the worker leaves it be


@dataclass
class Tally:
    """What the clients saw."""

    requests: int = 0
    server_errors: int = 0  # 5xx answers
    failures: int = 0  # no answer: refused, reset or timed out (not counting the deliberately rude clients)
    probe_failures: int = 0
    latencies: list[float] = field(default_factory=list)
    storms: int = 0
    storm_winners: list[int] = field(default_factory=list)  # 204s per storm of concurrent aborts: exactly 1 each
    rude: int = 0  # idle, trickling and disconnecting connections opened
    logouts: int = 0  # each a revocation the mock keeps until the token expires (12 h): memory it may keep


@dataclass
class Report:
    """The soak's figures and verdict."""

    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_errors: int
    failures: int
    probe_failures: int
    mock_errors: int
    journal_dropped: int
    storms: int
    storms_with_one_winner: int
    rude_connections: int
    logouts: int
    rss_start_mb: float
    rss_warm_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    samples_mb: list[float]

    @property
    def growth_mb(self) -> float:
        """Resident growth from the end of the warm-up to the end."""
        return self.rss_end_mb - self.rss_warm_mb

    @property
    def passed(self) -> bool:
        """Flat memory, no 5xx, no mock error, always answering, and one winner per storm."""
        return (
            self.growth_mb <= FLAT_MB
            and not self.server_errors
            and not self.mock_errors
            and not self.probe_failures
            and self.storms_with_one_winner == self.storms
        )


class Soak:
    """The clients of one soak against one mock at `url`, until `deadline`."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url = url
        self.deadline = time.monotonic() + seconds
        self.tally = Tally()
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def running(self) -> bool:
        """Whether the soak goes on."""
        return time.monotonic() < self.deadline

    async def call(self, session: aiohttp.ClientSession, method: str, path: str, **kwargs: Any) -> int:
        """One measured request: its status, or 0 when no answer came."""
        started = time.perf_counter()
        try:
            async with session.request(method, self.url + path, **kwargs) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            self.tally.failures += 1
            return 0
        self.tally.requests += 1
        self.tally.latencies.append(time.perf_counter() - started)
        self.tally.server_errors += status >= 500
        return status

    async def token(self, session: aiohttp.ClientSession) -> str:
        """A fresh admin token."""
        async with session.post(f"{self.url}/@login", json={"login": "admin", "password": "admin"}) as response:
            return str((await response.json())["token"])

    async def reader(self, session: aiohttp.ClientSession) -> None:
        """Lists the jobs and reads each of them, again and again."""
        headers = {"Authorization": f"Bearer {await self.token(session)}"}
        while self.running():
            async with session.get(f"{self.url}/@jobs", headers=headers) as response:
                jobs = await response.json() if response.status == 200 else []
            self.tally.requests += 1
            for job in jobs[:10]:
                await self.call(session, "GET", f"/@jobs/{job['uuid']}", headers=headers)

    async def sessions(self, session: aiohttp.ClientSession) -> None:
        """Logs in, lists, renews and logs out, again and again."""
        while self.running():
            token = await self.token(session)
            headers = {"Authorization": f"Bearer {token}"}
            await self.call(session, "GET", "/@jobs", headers=headers)
            async with session.post(f"{self.url}/@login-renew", headers=headers) as response:
                renewed = (await response.json())["token"] if response.status == 200 else token
            for bearer in (token, renewed):
                status = await self.call(session, "POST", "/@logout", headers={"Authorization": f"Bearer {bearer}"})
                self.tally.logouts += status == 204

    async def storms(self, session: aiohttp.ClientSession) -> None:
        """Twenty concurrent aborts of one running job (exactly one may win), then retries of it failed, then away."""
        headers = {"Authorization": f"Bearer {await self.token(session)}"}
        while self.running():
            job = {**HELD, "title": "Soak storm", LIFECYCLE.status_field: ABORTABLE}
            async with session.post(f"{self.url}/__mock__/jobs", json=job) as response:
                job_id = (await response.json())["uuid"]
            path = f"/@jobs/{job_id}"
            aborts = await asyncio.gather(
                *(self.call(session, "POST", f"{path}/abort", headers=headers) for _ in range(20))
            )
            self.tally.storms += 1
            self.tally.storm_winners.append(aborts.count(204))
            move = {LIFECYCLE.status_field: RETRYABLE}
            await self.call(session, "POST", f"/__mock__/jobs/{job_id}/move", json=move)
            await asyncio.gather(*(self.call(session, "POST", f"{path}/retry", headers=headers) for _ in range(20)))
            await self.call(session, "DELETE", path, headers=headers)
            await asyncio.sleep(0.05)

    async def control(self, session: aiohttp.ClientSession) -> None:
        """The control API: faults in and out, the clock, the journal, the errors, tokens."""
        while self.running():
            async with session.post(f"{self.url}/__mock__/faults", json={"latency": 0.01, "count": 3}) as response:
                fault = await response.json()
            for path in ("clock", "journal?since=0", "errors", "faults"):
                await self.call(session, "GET", f"/__mock__/{path}")
            await self.call(session, "POST", "/__mock__/tokens", json={"manageJobs": False})
            await self.call(session, "POST", "/__mock__/clock/advance", json={"seconds": 1})
            await self.call(session, "DELETE", f"/__mock__/faults/{fault['id']}")
            await asyncio.sleep(0.1)

    async def probe(self, session: aiohttp.ClientSession) -> None:
        """Four times a second: is the mock still answering?"""
        while self.running():
            try:
                async with session.get(f"{self.url}/openapi.json", timeout=aiohttp.ClientTimeout(total=3)) as answer:
                    await answer.read()
                    self.tally.probe_failures += answer.status != 200
            except (aiohttp.ClientError, TimeoutError):
                self.tally.probe_failures += 1
            await asyncio.sleep(0.25)

    async def rude(self, behaviour: Callable[[asyncio.StreamWriter], Awaitable[None]], pause: float) -> None:
        """Opens connections that misbehave in one way, one after the other."""
        while self.running():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(pause)
                continue
            self.tally.rude += 1
            try:
                await behaviour(writer)
            except (OSError, ConnectionError):
                pass
            finally:
                writer.close()
            await asyncio.sleep(pause)

    async def idle(self, writer: asyncio.StreamWriter) -> None:
        """Say nothing, until the mock lets go (its request timeout)."""
        await asyncio.sleep(1.5)

    async def trickle(self, writer: asyncio.StreamWriter) -> None:
        """A request head a byte at a time."""
        for byte in f"GET /@jobs HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nX-Slow: ".encode() + b"x" * 40:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)

    async def disconnect(self, writer: asyncio.StreamWriter) -> None:
        """A body cut short, and an answer left unread."""
        head = f"POST /__mock__/jobs HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
        writer.write(head.encode() + b'Content-Length: 100\r\n\r\n{"title"')
        await writer.drain()

    async def run(self) -> None:
        """Every client at once, until the deadline."""
        timeout = aiohttp.ClientTimeout(total=10)
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=JSON) as session:
            await asyncio.gather(
                *(self.reader(session) for _ in range(3)),
                self.sessions(session),
                self.storms(session),
                self.control(session),
                self.probe(session),
                *(self.rude(self.idle, 0.02) for _ in range(4)),
                self.rude(self.trickle, 0.1),
                self.rude(self.disconnect, 0.05),
            )


async def _sample(process: servers.ServerProcess, soak: Soak, samples: list[float]) -> None:
    """The mock's resident memory every second, in MB."""
    while soak.running():
        samples.append(process.rss()["VmRSS"] / 1e6)
        await asyncio.sleep(1.0)


async def _soak(process: servers.ServerProcess, seconds: float, samples: list[float]) -> Tally:
    soak = Soak(process.base_url, seconds)
    await asyncio.gather(soak.run(), _sample(process, soak, samples))
    return soak.tally


def measure(seconds: float) -> Report:
    """Start a mock, soak it for `seconds`, and report."""
    with servers.mock(None, frozen=False, options=MOCK_OPTIONS) as process:
        start = process.rss()["VmRSS"] / 1e6
        samples: list[float] = []
        began = time.perf_counter()
        tally = asyncio.run(_soak(process, seconds, samples))
        elapsed = time.perf_counter() - began
        status, raw = process.fetch("GET", "/__mock__/errors")
        errors = json.loads(raw) if status == 200 else [{"error": f"GET /__mock__/errors answered {status}"}]
        journal = _dropped(process)
        peak = process.rss()["VmHWM"] / 1e6
    return _report(tally, elapsed, start, samples, len(errors), journal, peak)


def _dropped(process: servers.ServerProcess) -> int:
    """How many journal entries the mock's ring let go."""
    request = process.base_url + "/__mock__/journal?since=999999999999"
    with urllib.request.urlopen(request, timeout=30) as answer:
        return int(answer.headers.get("X-Mock-Dropped", "0"))


def _report(
    tally: Tally, elapsed: float, start: float, samples: list[float], errors: int, dropped: int, peak: float
) -> Report:
    ordered = sorted(tally.latencies) or [0.0]
    warm = samples[min(len(samples) - 1, max(1, len(samples) // 4))] if samples else start
    return Report(
        seconds=round(elapsed, 1),
        requests=tally.requests,
        rps=round(tally.requests / elapsed, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 2),
        p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        server_errors=tally.server_errors,
        failures=tally.failures,
        probe_failures=tally.probe_failures,
        mock_errors=errors,
        journal_dropped=dropped,
        storms=tally.storms,
        storms_with_one_winner=tally.storm_winners.count(1),
        rude_connections=tally.rude,
        logouts=tally.logouts,
        rss_start_mb=round(start, 1),
        rss_warm_mb=round(warm, 1),
        rss_end_mb=round(samples[-1] if samples else start, 1),
        rss_peak_mb=round(peak, 1),
        samples_mb=[round(sample, 1) for sample in samples],
    )


def render(report: Report) -> str:
    """The soak's figures as a markdown table, and its verdict."""
    rows = [
        ("duration", f"{report.seconds} s"),
        ("requests answered (rps)", f"{report.requests:,} ({report.rps:,.0f}/s)"),
        ("latency p50 / p99", f"{report.p50_ms} ms / {report.p99_ms} ms"),
        ("5xx answers", str(report.server_errors)),
        ("requests without an answer", str(report.failures)),
        ("probe misses", str(report.probe_failures)),
        ("mock errors (GET /__mock__/errors)", str(report.mock_errors)),
        ("journal entries dropped (ring)", f"{report.journal_dropped:,}"),
        ("abort storms with exactly one 204", f"{report.storms_with_one_winner} of {report.storms}"),
        ("idle, trickling and leaving connections", f"{report.rude_connections:,}"),
        ("logouts (revocations kept until the tokens expire)", f"{report.logouts:,}"),
        ("RSS start / after warm-up / end / peak", f"{report.rss_start_mb} / {report.rss_warm_mb} / "
         f"{report.rss_end_mb} / {report.rss_peak_mb} MB"),
        ("RSS growth after warm-up", f"{report.growth_mb:+.1f} MB (allowed {FLAT_MB} MB)"),
    ]  # fmt: skip
    table = ["| soak | |", "|---|--:|", *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join(table) + f"\n\n{'PASSED' if report.passed else 'FAILED'}"


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 when the mock held, 1 when it did not, 2 when the soak could not run."""
    cli = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    cli.add_argument("--seconds", type=float, default=120.0, help="how long to soak (default 120)")
    cli.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON to FILE")
    args = cli.parse_args(argv)
    try:
        report = measure(args.seconds)
    except servers.ServerError as error:
        print(f"the soak could not run: {error}", file=sys.stderr)
        return 2
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "growth_mb": report.growth_mb, "passed": report.passed}))
    return 0 if report.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
