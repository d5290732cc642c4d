"""`jobs-proxy`: forward every request to the upstream unchanged, and check the traffic against the spec.

Exit codes: 0 stopped by SIGINT or SIGTERM (also with violations, unless --fail-on-violation);
1 violations were seen and --fail-on-violation was given; 2 usage or setup error.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import aiohttp
from rich.console import Console

from httpserving import Serving
from httpserving.hosts import check_host_names
from jobspec import LifecycleError, Spec, SpecError, load_spec
from jobsproxy import config as defaults
from jobsproxy.app import PROXY, create_app
from jobsproxy.config import DEFAULT_MAX_CHECK_BYTES, DEFAULT_PORT, ProxyConfig
from jobsproxy.page import PREFIX
from jobsproxy.report import write
from verdicts.report import render

USAGE_ERROR = 2
DISTRIBUTION = "nick-jobs-kit"
PROBE_TIMEOUT = 10.0
MAX_TIMEOUT = 86_400.0  # a day: longer is no timeout at all


class Unreachable(Exception):
    """The upstream gives no HTTP answer at start."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the whole usage."""
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    """The command line of `jobs-proxy`."""
    p = _Parser(
        allow_abbrev=False,  # an abbreviation is a typo, not a flag
        prog="jobs-proxy",
        description="Forward every request to the upstream unchanged; check the traffic against the spec and its lifecycle.",
        epilog="Exit codes: 0 stopped; 1 violations seen with --fail-on-violation; 2 usage or setup error.",
    )
    p.add_argument("--upstream", required=True, metavar="URL", help="the server to forward to, path prefix included")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    p.add_argument(
        "--spec", type=Path, metavar="FILE", help="the spec to check against (default: the packaged spec/jobs.yaml)"
    )
    p.add_argument("--report", type=Path, metavar="FILE", help="write a JSON report at exit")
    p.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report at exit")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="write a Markdown report at exit")
    p.add_argument("--fail-on-violation", action="store_true", help="exit 1 if any violation was seen")
    p.add_argument(
        "--shared",
        action="store_true",
        help="other clients act on the upstream's jobs too: any chain of transitions may pass between two sightings "
        "(default: only the worker's, besides the operations that pass through the proxy)",
    )
    p.add_argument(
        "--max-check-bytes",
        type=_positive,
        default=DEFAULT_MAX_CHECK_BYTES,
        metavar="N",
        help=f"larger bodies pass through unchecked, and are noted (default: {DEFAULT_MAX_CHECK_BYTES} = 10 MiB)",
    )
    p.add_argument(
        "--upstream-timeout",
        type=_seconds,
        default=defaults.UPSTREAM_TIMEOUT,
        metavar="SECONDS",
        help="the upstream's status and headers must arrive within SECONDS of the whole request, else the client "
        f"gets a 504 (default: {defaults.UPSTREAM_TIMEOUT:g})",
    )
    p.add_argument(
        "--request-timeout",
        type=_seconds,
        default=defaults.REQUEST_TIMEOUT,
        metavar="SECONDS",
        help="a client's request line and headers must arrive within SECONDS of its first byte (or of the "
        f"connection) (default: {defaults.REQUEST_TIMEOUT:g})",
    )
    p.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=defaults.IDLE_TIMEOUT,
        metavar="SECONDS",
        help=f"close a kept-alive client connection that waits SECONDS for its next request "
        f"(default: {defaults.IDLE_TIMEOUT:g})",
    )
    p.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        type=_host_name,
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME (besides localhost, 127.0.0.1, [::1], --host and any IP "
        "address); repeatable; '*' allows any",
    )
    p.add_argument(
        "--journal-size",
        type=_positive,
        default=defaults.JOURNAL_SIZE,
        metavar="N",
        help=f"keep the newest N violations and notes in full; the counts stay exact (default: {defaults.JOURNAL_SIZE})",
    )
    p.add_argument(
        "--max-jobs",
        type=_positive,
        default=defaults.MAX_JOBS,
        metavar="N",
        help="remember the N jobs seen most recently; an older one's next sighting is judged afresh "
        f"(default: {defaults.MAX_JOBS})",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no line per violation as it happens")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return p


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535)")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"must be greater than 0 and at most {MAX_TIMEOUT:g}, got {text}")
    return value


def _host_name(text: str) -> str:
    try:
        return check_host_names([text])[0]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--allowed-host: ")) from None


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover (a source tree that was never installed)
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Run the proxy until SIGINT or SIGTERM; return the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else USAGE_ERROR
    config = ProxyConfig(
        upstream=args.upstream,
        host=args.host,
        port=args.port,
        spec=args.spec,
        report=args.report,
        junit=args.junit,
        markdown=args.markdown,
        fail_on_violation=args.fail_on_violation,
        max_check_bytes=args.max_check_bytes,
        upstream_timeout=args.upstream_timeout,
        request_timeout=args.request_timeout,
        idle_timeout=args.idle_timeout,
        allowed_hosts=tuple(args.allowed_hosts),
        journal_size=args.journal_size,
        max_jobs=args.max_jobs,
        shared=args.shared,
        quiet=args.quiet,
    )
    try:
        check_upstream(config.upstream)
        spec = load_spec(config.spec)
        return asyncio.run(serve(config, spec))
    except (ValueError, SpecError, LifecycleError, Unreachable) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}")


def _fail(message: str) -> int:
    print(f"jobs-proxy: {' '.join(message.split())}", file=sys.stderr)
    return USAGE_ERROR


def check_upstream(url: str) -> None:
    """ValueError unless `url` is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValueError(f"--upstream is not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--upstream must be an http(s) URL, not {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"--upstream takes no query or fragment: {url!r}")


async def probe(url: str) -> None:
    """Unreachable unless the upstream answers anything at all over HTTP."""
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url.rstrip("/") + "/", allow_redirects=False),
        ):
            return
    except TimeoutError:
        raise Unreachable(f"the upstream {url} gives no answer within {PROBE_TIMEOUT:g} s") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise Unreachable(f"the upstream {url} is unreachable: {exc}") from None


async def serve(config: ProxyConfig, spec: Spec) -> int:
    """Probe the upstream, serve until a signal, then drain the checks and report."""
    await probe(config.upstream)
    app = create_app(spec, config=config, echo=None if config.quiet else _echo)
    serving = Serving(app, request_timeout=config.request_timeout, idle_timeout=config.idle_timeout)
    try:
        await serving.start(config.host, config.port, owns_loop=True)  # this process is the proxy's
    except OSError:
        await serving.stop()
        raise
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    _announce(serving, config, spec)
    try:
        await stop.wait()
    finally:
        print("jobs-proxy: shutting down; the checks finish, then the report", flush=True)
        await serving.stop()  # requests in flight get a few seconds; those still waiting are judged unanswered
    report = app[PROXY].report()
    write(report, json_file=config.report, junit=config.junit, markdown=config.markdown)
    render(report, Console(highlight=False), 0)
    return report.exit_code if config.fail_on_violation else 0


def _echo(line: str) -> None:
    print(line, flush=True)


def _announce(serving: Serving, config: ProxyConfig, spec: Spec) -> None:
    host, port = serving.addresses[0][:2]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    lines = [
        f"Proxying {url} -> {config.upstream}",
        f"  spec:     {spec.path}" + (" (--shared)" if config.shared else ""),
        f"  live:     {url}{PREFIX}/ (violations: {url}{PREFIX}/violations)",
        "  reports:  "
        + (
            ", ".join(str(p) for p in (config.report, config.junit, config.markdown) if p)
            or "none (--report, --junit, --markdown)"
        ),
    ]
    print("\n".join(lines), flush=True)
