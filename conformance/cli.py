"""`jobs-conformance`: check a deployment against the spec.

Exit codes: 0 conformant, 1 violations found or coverage below `--require`, 2 usage or setup
error (also: the run stopped early, at its deadline or when the deployment stopped answering, and
any unexpected failure of the suite); 130 on a Ctrl-C and 143 on a SIGTERM, the reports written
with what was done, marked interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn

import urllib3
from rich.console import Console
from rich.markup import escape

from conformance.client import SetupError
from conformance.options import OPTIONS, OptionError, Options, argparse_settings, parse
from conformance.runner import Run
from conformance.storage import keep_hypothesis_out_of_the_cwd
from verdicts.report import Report, render, to_html, to_json, to_junit, to_markdown

USAGE_ERROR = 2
INTERRUPTED = 130  # 128 + SIGINT, as shells report it
TERMINATED = 143  # 128 + SIGTERM
DISTRIBUTION = "nick-jobs-kit"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the whole usage."""
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    """The command line, built from the options table."""
    p = _Parser(
        allow_abbrev=False,  # an abbreviation is a typo, not a flag: --fixture is no --fixtures
        prog="jobs-conformance",
        description="Check a deployment of the Nick jobs API against its spec and lifecycle.",
        epilog="Exit codes: 0 conformant; 1 violations found or coverage below --require; 2 usage or setup error, or "
        "the run stopped (--deadline, a deployment no longer answering); 130 Ctrl-C, 143 SIGTERM (reports written).",
    )
    for option in OPTIONS:
        flags = [option.short] if option.short else []
        p.add_argument(*flags, "--" + option.name.replace("_", "-"), **argparse_settings(option))
    p.add_argument("-q", "--quiet", action="count", default=0, help="only failures and the verdict")
    p.add_argument("-v", "--verbose", action="count", default=0, help="every check (-vv: every finding)")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return p


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover (a source tree that was never installed)
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Run the suite; return the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else USAGE_ERROR
    undo = keep_hypothesis_out_of_the_cwd()
    try:
        with warnings.catch_warnings():
            if args.insecure:  # asked for: urllib3's warning on every request would say it again and again
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            return _main(args)
    finally:
        undo()


def _main(args: argparse.Namespace) -> int:
    console = Console(stderr=False, highlight=False)
    errors = Console(stderr=True, highlight=False)
    started: Run | None = None
    try:
        options = parse(vars(args), verbosity=args.verbose - args.quiet)
        with _terminable():
            started = Run(options, _progress(console, options))
            report = started.until()
    except (OptionError, SetupError) as exc:
        _error(errors, str(exc))
        return USAGE_ERROR
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: no verdict; helper processes already stopped
        code = TERMINATED if isinstance(exc, Terminated) else INTERRUPTED
        if started is None:
            _error(errors, "interrupted: no verdict")
            return code
        with _signals_ignored():  # the reports are written whole, a second Ctrl-C or not
            report = started.interrupted("SIGTERM" if code == TERMINATED else "Ctrl-C")
            write_reports(report, options)
        _error(errors, report.error if _asked_for_reports(options) else "interrupted: no verdict")
        return code
    except Exception as exc:  # noqa: BLE001 (the suite itself failed before the run started: one line, exit 2)
        _error(errors, f"the suite failed: {type(exc).__name__}: {exc}")
        if args.verbose:
            errors.print(traceback.format_exc(), markup=False, highlight=False)
        return USAGE_ERROR
    write_reports(report, options)
    if report.started or not report.error:  # a run stopped reaching the deployment or logging in: its error line alone
        render(report, console, options.verbosity)
    if report.error:
        _error(errors, report.error)
        if report.trace and options.verbosity > 0:
            errors.print(report.trace, markup=False, highlight=False)
    return report.exit_code


class Terminated(KeyboardInterrupt):
    """SIGTERM, what a CI's timeout sends: the run ends where it stands, as on a Ctrl-C, its reports written."""


def _terminate(number: int, frame: Any) -> None:
    raise Terminated


@contextmanager
def _terminable() -> Iterator[None]:
    """SIGTERM raises Terminated while the run goes on (this process is the suite's; a caller's handler comes back
    after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _asked_for_reports(options: Options) -> bool:
    return any(path is not None for path in (options.junit, options.report, options.markdown, options.html))


def _progress(console: Console, options: Options) -> Any:
    if options.verbosity < 0:
        return lambda _: None
    return lambda line: console.print(f"[dim]> {escape(line)}[/]", soft_wrap=True)


def _error(errors: Console, message: str) -> None:
    errors.print(f"[bold red]jobs-conformance: {escape(message)}[/]", highlight=False, soft_wrap=True)


def write_reports(report: Report, options: Options) -> None:
    """The report files the options ask for."""
    targets: tuple[tuple[Path | None, Any], ...] = (
        (options.junit, to_junit),
        (options.report, to_json),
        (options.markdown, to_markdown),
        (options.html, to_html),
    )
    for path, make in targets:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(make(report), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
