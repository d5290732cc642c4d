"""`jobs-conformance`: check a deployment against the spec.

Exit codes: 0 conformant, 1 violations found or coverage below `--require`, 2 usage or setup
error (also: the run stopped early, and any unexpected failure of the suite).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape

from conformance.client import SetupError
from conformance.options import OPTIONS, OptionError, Options, argparse_settings, parse
from conformance.runner import run
from verdicts.report import Report, render, to_html, to_json, to_junit, to_markdown

USAGE_ERROR = 2
INTERRUPTED = 130  # 128 + SIGINT, as shells report it
DISTRIBUTION = "nick-jobs-kit"
HYPOTHESIS_STORAGE = "HYPOTHESIS_STORAGE_DIRECTORY"  # where Hypothesis keeps its files (default: ./.hypothesis)


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
        epilog="Exit codes: 0 conformant; 1 violations found or coverage below --require; 2 usage or setup error.",
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
    console = Console(stderr=False, highlight=False)
    errors = Console(stderr=True, highlight=False)
    _keep_hypothesis_out_of_the_cwd()
    try:
        options = parse(vars(args), verbosity=args.verbose - args.quiet)
        report = run(options, _progress(console, options))
    except (OptionError, SetupError) as exc:
        _error(errors, str(exc))
        return USAGE_ERROR
    except KeyboardInterrupt:  # Ctrl-C: no verdict, no report; helper processes already stopped
        _error(errors, "interrupted: no verdict")
        return INTERRUPTED
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


def _keep_hypothesis_out_of_the_cwd() -> None:
    """Hypothesis keeps a cache (`.hypothesis/`) in the current directory unless told where: this process is the
    suite's, so it is told the user's cache directory (a setting of the user's own wins)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(cache):  # no home directory to expand
        cache = tempfile.gettempdir()
    os.environ.setdefault(HYPOTHESIS_STORAGE, os.path.join(cache, "jobs-conformance", "hypothesis"))


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
