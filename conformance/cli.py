"""`jobs-conformance`: check a deployment against the spec; exit 0 conformant, 1 violations, 2 usage or setup error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from conformance.client import SetupError
from conformance.report import Report, render, to_json, to_junit, to_markdown
from conformance.runner import run
from conformance.target import DEFAULT_MAX_EXAMPLES, DEFAULT_TIMEOUT, Options

USAGE_ERROR = 2


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="jobs-conformance",
        description="Check a deployment of the Nick jobs API against its spec and lifecycle.",
    )
    p.add_argument("--base-url", required=True, help="the deployment, e.g. http://localhost:8080")
    p.add_argument("--spec", type=Path, help="the spec to check against (default: the packaged spec/jobs.yaml)")
    p.add_argument("--login", default="admin", help="a user who may manage jobs (default: admin)")
    p.add_argument("--password", default="admin", help="that user's password (default: admin)")
    p.add_argument("--token", help="a token to use instead of logging in")
    p.add_argument("--forbidden-login", help="a user who may not manage jobs, for the 403 checks")
    p.add_argument("--forbidden-password", help="that user's password")
    p.add_argument(
        "--fixtures",
        default="none",
        metavar="{mock,none,command:CMD}",
        help="how to get jobs in a given state: the mock's control API ($JOBS_MOCK_TOKEN for its "
        "--control-token), only existing jobs (default), or CMD run with the wanted status appended, "
        "printing the new job's id last",
    )
    p.add_argument("--read-only", action="store_true", help="send only GET requests and the login")
    p.add_argument("--allow-destructive", action="store_true", help="also act on jobs the suite did not create")
    p.add_argument(
        "--max-examples", type=_positive, default=DEFAULT_MAX_EXAMPLES, help="schemathesis examples per operation"
    )
    p.add_argument("--seed", type=int, help="schemathesis seed, to repeat a run")
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="schemathesis workers for its stateless phases (default: %(default)s)",
    )
    p.add_argument(
        "--timeout", type=_seconds, default=DEFAULT_TIMEOUT, help="seconds per request, and the worker watch budget"
    )
    p.add_argument("--phases", default="auth,schema,lifecycle", help="comma-separated: auth, schema, lifecycle")
    p.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report")
    p.add_argument("--report", type=Path, metavar="FILE", help="write a JSON report")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="write a Markdown report")
    p.add_argument("-q", "--quiet", action="count", default=0, help="only failures and the verdict")
    p.add_argument("-v", "--verbose", action="count", default=0, help="every check (-vv: every finding)")
    return p


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def options_from(args: argparse.Namespace) -> Options:
    """Options from parsed arguments; SetupError on contradictions."""
    phases = tuple(name.strip() for name in args.phases.split(",") if name.strip())
    unknown = set(phases) - {"auth", "schema", "lifecycle"}
    if unknown:
        raise SetupError(f"--phases: unknown phases {sorted(unknown)}")
    if args.read_only and args.allow_destructive:
        raise SetupError("--read-only and --allow-destructive contradict each other")
    return Options(
        base_url=args.base_url,
        spec=args.spec,
        login=args.login,
        password=args.password,
        token=args.token,
        forbidden_login=args.forbidden_login,
        forbidden_password=args.forbidden_password,
        fixtures=args.fixtures,
        read_only=args.read_only,
        allow_destructive=args.allow_destructive,
        max_examples=args.max_examples,
        seed=args.seed,
        workers=args.workers,
        timeout=args.timeout,
        phases=("reachability", *phases),
        verbosity=args.verbose - args.quiet,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the suite; return the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else USAGE_ERROR
    console = Console(stderr=False, highlight=False)
    errors = Console(stderr=True, highlight=False)
    try:
        options = options_from(args)
        progress = (lambda line: console.print(f"[dim]> {line}[/]")) if options.verbosity >= 0 else (lambda _: None)
        report = run(options, progress)
    except SetupError as exc:
        errors.print(f"[bold red]jobs-conformance: {escape(str(exc))}[/]", highlight=False, soft_wrap=True)
        return USAGE_ERROR
    write_reports(report, args)
    render(report, console, options.verbosity)
    return report.exit_code


def write_reports(report: Report, args: argparse.Namespace) -> None:
    """The report files the arguments ask for."""
    for path, make in ((args.junit, to_junit), (args.report, to_json), (args.markdown, to_markdown)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(make(report), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
