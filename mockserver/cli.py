"""`jobs-mock`: run the mock server of the Nick jobs API."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from jwt.warnings import InsecureKeyLengthWarning

from httpserving import Serving
from jobspec import Spec, SpecError, files, load_spec
from jobspec.loader import spec_from_document
from mockserver import logs, options
from mockserver.config import MockConfig
from mockserver.domain.data import DataError
from mockserver.domain.errors import ApiError
from mockserver.domain.validation import openapi_problem
from mockserver.http.app import create_app
from mockserver.reload import Reloader, Stamp, stamps, watched

DISTRIBUTION = "nick-jobs-kit"


def parser() -> argparse.ArgumentParser:
    """The command line of `jobs-mock`, from the options table (`mockserver.options`)."""
    p = argparse.ArgumentParser(
        prog="jobs-mock", description="A stateful mock of the Nick CMS jobs API.", allow_abbrev=False
    )
    options.add_arguments(p)
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return p


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover (a source tree that was never installed)
        return "unknown"


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
        seen = stamps(watched(config, args.spec))  # before the files are read: an edit meanwhile is seen
        app = create_app(read_spec(args.spec), config=config)
    except (DataError, SpecError, ValueError, ApiError) as exc:
        print(f"jobs-mock: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, even for YAML's messages
        return 2
    try:
        asyncio.run(serve(app, config, spec_file=args.spec, seen=seen))
    except OSError as exc:
        print(f"jobs-mock: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def read_spec(path: Path | None) -> Spec:
    """The spec to serve: the packaged one, or the file at `path` once it is a valid OpenAPI 3.1 document."""
    if path is None:
        return load_spec()
    try:
        text, document = files.read_yaml(path)
    except files.NotYaml as exc:
        raise SpecError(f"{path} is not a valid OpenAPI 3.1 document: {exc.reason}") from None
    except files.CannotRead as exc:
        raise SpecError(f"cannot read the spec {path}: {exc.reason}") from None
    except files.FileProblem as exc:
        raise SpecError(str(exc)) from None
    problem = openapi_problem(document)
    if problem is not None:
        raise SpecError(f"{path} is not a valid OpenAPI 3.1 document: {problem}")
    try:
        return spec_from_document(text, document, path)
    except (KeyError, TypeError, AttributeError) as exc:  # valid OpenAPI, but not shaped like the jobs API
        raise SpecError(f"{path} cannot serve as the jobs API spec: {type(exc).__name__} {exc}") from None


def config_from(args: argparse.Namespace) -> MockConfig:
    """The MockConfig the parsed flags describe; ValueError for a refused combination."""
    return options.config_from(vars(args))


async def serve(
    app: web.Application, config: MockConfig, spec_file: Path | None = None, seen: dict[Path, Stamp] | None = None
) -> None:
    """Serve `app` until a signal asks to stop, then shut down gracefully; with --reload, a new app on each edit."""
    serving = _serving(app, config)
    await serving.start(config.host, config.port, owns_loop=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    _announce(serving, config)
    reloader = Reloader(serving, config, spec_file, read_spec, lambda new: _serving(new, config))
    watching = asyncio.create_task(reloader.watch(seen)) if config.reload else None
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
        await reloader.settle()
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
