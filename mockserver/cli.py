"""`jobs-mock`: run the mock server of the Nick jobs API."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from jwt.warnings import InsecureKeyLengthWarning

from jobspec import Spec, SpecError, load_spec
from jobspec.lifecycle import MAX_SECONDS
from mockserver import logs
from mockserver.config import MockConfig
from mockserver.domain.data import DataError
from mockserver.domain.errors import ApiError
from mockserver.domain.faults import parse_latency
from mockserver.domain.validation import openapi_problem
from mockserver.http.app import create_app
from mockserver.http.cors import DEFAULT_ORIGINS, check_origins
from mockserver.http.guard import check_host_names
from mockserver.http.saver import SYNC_MODES
from mockserver.http.serving import Serving
from mockserver.reload import Reloader

LEVELS = ("debug", "info", "warning", "error")
DISTRIBUTION = "nick-jobs-kit"
MAX_COUNT = 10_000_000  # a journal this long already takes gigabytes
MAX_TIMEOUT = 86_400.0  # a day: longer is no timeout at all
MAX_SPEED = 10_000.0  # even so, the mock's clock takes most of a year to reach the year 9999


def parser() -> argparse.ArgumentParser:
    """The command line of `jobs-mock`."""
    p = argparse.ArgumentParser(prog="jobs-mock", description="A stateful mock of the Nick CMS jobs API.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080)")
    p.add_argument("--data", type=Path, help="jobs to start with, a YAML or JSON list of jobs (default: built-in)")
    p.add_argument("--frozen", action="store_true", help="the worker never moves a job by itself")
    p.add_argument(
        "--speed", type=_between(0, MAX_SPEED), default=1.0, help="how fast the worker moves jobs (default: 1.0)"
    )
    p.add_argument(
        "--schedule",
        type=_between(0, MAX_SECONDS),
        metavar="SECONDS",
        help="create a new scheduled job every SECONDS (default: off)",
    )
    p.add_argument("--seed", type=int, help="make ids, outcomes and timings deterministic")
    p.add_argument("--users", type=Path, help="users file: [{login, password, fullname, manageJobs}]")
    p.add_argument("--secret", default="secret", help="JWT signing secret (default: Nick's development 'secret')")
    p.add_argument("--no-control", dest="control", action="store_false", help="switch the /__mock__/ API off")
    p.add_argument("--control-token", help="require this X-Mock-Token header on the /__mock__/ API")
    p.add_argument(
        "--cors-origin",
        action="append",
        dest="cors_origins",
        metavar="ORIGIN",
        help="allow this browser origin, with credentials; repeatable (default: http://localhost:3000)",
    )
    _add_limits(p)
    p.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        dest="rate_limits",
        metavar="SETTING=N",
        type=_rate_limit,
        help="enforce a rate limit of the spec as Nick does, N requests per window and client address, "
        "e.g. AUTH_RATE_LIMIT=5 (Nick's default for @login and @login-renew); repeatable (default: no limits)",
    )
    p.add_argument(
        "--latency", metavar="SECONDS|MIN-MAX", help="delay every answer, e.g. 0.3 or 0.1-0.8 (default: none)"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        type=_json_object,
        help='inject a fault, as POST /__mock__/faults takes it, e.g. \'{"operation": "getJobs", "status": 503}\'; repeatable',
    )
    p.add_argument(
        "--reload",
        action="store_true",
        help="watch the --spec, --data and --users files and serve an edit without a restart "
        "(an invalid edit is refused, the last good one kept)",
    )
    p.add_argument("--strict", action="store_true", help="validate every response against the spec (slow)")
    p.add_argument("--log-level", choices=LEVELS, default="info", help="logging level (default: info)")
    p.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default="text",
        help="text, or json: one JSON object per line (time, level, logger, message), the start-up lines too",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    p.add_argument(
        "--spec",
        type=Path,
        metavar="FILE",
        help="serve this OpenAPI 3.1 document with its x-job-lifecycle, e.g. a deployment's own copy (default: the packaged spec)",
    )
    return p


def _add_limits(p: argparse.ArgumentParser) -> None:
    """The flags of who may talk to the mock, how long it waits, what it keeps and how it saves."""
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        dest="allowed_hosts",
        type=_host_name,
        metavar="NAME",
        help="also answer requests whose Host is NAME (besides localhost, 127.0.0.1, [::1] and --host); "
        "repeatable; '*' allows any",
    )
    p.add_argument(
        "--state-file",
        type=Path,
        metavar="FILE",
        help="keep jobs, the tokens it holds and the clock in FILE across restarts",
    )
    p.add_argument(
        "--journal-size",
        type=_count,
        default=10_000,
        metavar="N",
        help="keep the newest N journal entries, and as many of the mock's own errors (default: 10000)",
    )
    p.add_argument(
        "--request-timeout",
        type=_between(0, MAX_TIMEOUT),
        default=10.0,
        metavar="SECONDS",
        help="a request's line and headers must arrive within SECONDS of its first byte (or of the connection), "
        "and its body within SECONDS more (default: 10)",
    )
    p.add_argument(
        "--idle-timeout",
        type=_between(0, MAX_TIMEOUT),
        default=60.0,
        metavar="SECONDS",
        help="close a kept-alive connection that waits SECONDS for its next request (default: 60)",
    )
    p.add_argument(
        "--state-sync",
        choices=SYNC_MODES,
        default="interval",
        help="with --state-file: 'interval' writes changes four times a second (a kill -9 loses the last "
        "quarter second); 'always' writes each change before its answer is sent (default: interval)",
    )
    p.add_argument(
        "--session-idle",
        type=_between(0, MAX_TIMEOUT),
        default=600.0,
        metavar="SECONDS",
        help="forget a session (X-Mock-Session, /__session/NAME/) unused this long (default: 600)",
    )
    p.add_argument(
        "--max-sessions", type=_count, default=1000, metavar="N", help="hold at most N sessions at once (default: 1000)"
    )


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover (a source tree that was never installed)
        return "unknown"


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _rate_limit(text: str) -> tuple[str, int]:
    setting, equals, count = text.partition("=")
    if not equals or not setting.strip():
        raise argparse.ArgumentTypeError(f"expected SETTING=N, e.g. AUTH_RATE_LIMIT=5, got {text!r}")
    return setting.strip(), _count(count.strip())


def _host_name(text: str) -> str:
    try:
        return check_host_names([text])[0]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--allowed-host: ")) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_COUNT:,}, got {text}")
    return value


def _between(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number greater than `low` and at most `high` (never NaN or infinite)."""

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low < value <= high:  # NaN fails this too
            raise argparse.ArgumentTypeError(f"must be greater than {low:g} and at most {high:g}, got {text}")
        return value

    return number


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mock until SIGINT or SIGTERM; 2 on a usage or data error."""
    args = parser().parse_args(argv)
    logs.configure(args.log_level, args.log_format)
    # Nick's development secret is short on purpose; PyJWT's warning about it would only be noise.
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    try:
        config = replace(config_from(args), owns_process=True)  # this process is the mock's: see MockConfig
    except ValueError as exc:
        print(f"jobs-mock: {exc}", file=sys.stderr)
        return 2
    try:
        app = create_app(read_spec(args.spec), config=config)
    except (DataError, SpecError, ValueError, ApiError) as exc:
        print(f"jobs-mock: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, even for YAML's messages
        return 2
    try:
        asyncio.run(serve(app, config, spec_file=args.spec))
    except OSError as exc:
        print(f"jobs-mock: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def read_spec(path: Path | None) -> Spec:
    """The spec to serve: the packaged one, or the file at `path` once it is a valid OpenAPI 3.1 document."""
    if path is None:
        return load_spec()
    problem = openapi_problem(path)
    if problem is not None:
        raise SpecError(f"{path} is not a valid OpenAPI 3.1 document: {problem}")
    try:
        return load_spec(path)
    except (KeyError, TypeError, AttributeError) as exc:  # valid OpenAPI, but not shaped like the jobs API
        raise SpecError(f"{path} cannot serve as the jobs API spec: {type(exc).__name__} {exc}") from None


def config_from(args: argparse.Namespace) -> MockConfig:
    """The MockConfig the parsed flags describe; ValueError for a refused combination."""
    if args.state_sync != "interval" and args.state_file is None:
        raise ValueError(f"--state-sync {args.state_sync} needs --state-file")
    return MockConfig(
        host=args.host,
        port=args.port,
        data=args.data,
        frozen=args.frozen,
        speed=args.speed,
        schedule=args.schedule,
        seed=args.seed,
        users=args.users,
        secret=args.secret,
        control=args.control,
        control_token=args.control_token,
        strict=args.strict,
        log_level=args.log_level,
        log_format=args.log_format,
        reload=args.reload,
        cors_origins=check_origins(args.cors_origins or DEFAULT_ORIGINS),
        faults=tuple(([parse_latency(args.latency)] if args.latency else []) + args.fault),
        state_file=args.state_file,
        journal_size=args.journal_size,
        allowed_hosts=check_host_names(args.allowed_hosts),
        state_sync=args.state_sync,
        request_timeout=args.request_timeout,
        idle_timeout=args.idle_timeout,
        session_idle=args.session_idle,
        max_sessions=args.max_sessions,
        rate_limits=tuple(dict(args.rate_limits).items()),
    )


async def serve(app: web.Application, config: MockConfig, spec_file: Path | None = None) -> None:
    """Serve `app` until a signal asks to stop, then shut down gracefully; with --reload, a new app on each edit."""
    serving = _serving(app, config)
    # --reload hands the port to a new app: both listen for a moment, so the socket must allow a second one.
    await serving.start(config.host, config.port, reuse_port=True if config.reload else None, owns_loop=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    _announce(serving, config)
    reloader = Reloader(serving, config, spec_file, read_spec, lambda new: _serving(new, config))
    watching = asyncio.create_task(reloader.watch()) if config.reload else None
    if config.reload and not reloader.files:
        logging.getLogger("mockserver.reload").warning(
            "--reload: no --spec, --data or --users file given: nothing to watch"
        )
    try:
        await stop.wait()
    finally:
        if watching is not None:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        _say(config, "jobs-mock: shutting down")
        await reloader.serving.stop()


def _serving(app: web.Application, config: MockConfig) -> Serving:
    access_log = logging.getLogger("aiohttp.access") if config.log_level == "debug" else None
    return Serving(app, request_timeout=config.request_timeout, idle_timeout=config.idle_timeout, access_log=access_log)


def _token_query(config: MockConfig) -> str:
    return f"?token={quote(config.control_token)}" if config.control_token else ""


def _announce(serving: Serving, config: MockConfig) -> None:
    host, port = serving.addresses[0][:2]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    lines = [
        f"Listening on {url}",
        f"  log in:   curl -s -X POST {url}/@login -H 'Content-Type: application/json' "
        """-d '{"login": "admin", "password": "admin"}'""",
        "  users:    admin/admin (manages jobs), editor/editor123 (403 on jobs)" if not config.users else "",
        f"  docs:     {url}/docs",
        f"  spec:     {url}/openapi.yaml",
        f"  live:     {url}/__mock__/{_token_query(config)} (control API: {url}/__mock__/openapi.yaml)"
        if config.control
        else "  control:  off",
        "  reload:   on (the --spec, --data and --users files are watched)" if config.reload else "",
        "  worker:   frozen" if config.frozen else f"  worker:   speed {config.speed}",
        f"  schedule: a new job every {config.schedule} s" if config.schedule else "",
    ]
    text = "\n".join(line for line in lines if line)
    _say(config, text, {"url": url})


def _say(config: MockConfig, text: str, extra: dict[str, Any] | None = None) -> None:
    """A line (or lines) for the person who started the mock, on stdout; one JSON object with --log-format json."""
    if config.log_format == "json":
        print(logs.line("INFO", "jobs-mock", text, time.time(), extra), flush=True)
    else:
        print(text, flush=True)
