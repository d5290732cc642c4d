"""`jobs-drift`: does the mock still answer like this deployment? The same requests to both, every difference.

Without `--mock-url`, a mock is started for the comparison, with the deployment's users (the
credentials given), its JWT secret and its login rate limit (as the deployment advertises it).
Exit codes: 0 no drift; 1 differences (other than the known ones, which `-v` shows); 2 usage or
setup error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

import requests

from conformance import drift
from jobspec import SpecError, load_spec
from jobspec.operations import find_operations

USAGE_ERROR = 2
SECRET_ENV = "JOBS_JWT_SECRET"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the whole usage."""
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = _Parser(
        allow_abbrev=False,  # an abbreviation is a typo, not a flag
        prog="jobs-drift",
        description="Send the same requests to a deployment and to the mock, and print every way they answer "
        "differently (the mock's known, deliberate differences aside).",
        epilog="Exit codes: 0 no drift; 1 differences found; 2 usage or setup error.",
    )
    p.add_argument("--base-url", required=True, help="the deployment, e.g. http://localhost:8080")
    p.add_argument("--mock-url", help="a running jobs-mock to compare with (default: one started for the comparison)")
    p.add_argument("--login", default="admin", help="a user of the deployment who may manage jobs (default: admin)")
    p.add_argument("--password", default="admin", help="their password (default: admin)")
    p.add_argument(
        "--forbidden-login", help="a user who may not manage jobs (without one, the 403 requests are not sent)"
    )
    p.add_argument("--forbidden-password", help="their password")
    p.add_argument(
        "--jwt-secret",
        help=f"the deployment's JWT signing secret, for the well-signed forgeries (default: ${SECRET_ENV}, "
        "else Nick's development secret); never printed",
    )
    p.add_argument("--spec", type=Path, help="the deployment's copy of the spec (default: the packaged one)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds for each request (default: 10)")
    p.add_argument("--report", type=Path, help="write the differences as JSON to FILE")
    p.add_argument("-v", "--verbose", action="store_true", help="also show the known differences and why")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return p


def _version() -> str:
    try:
        return version("nick-jobs-kit")
    except PackageNotFoundError:  # pragma: no cover (a source tree that was never installed)
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Compare; return the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else USAGE_ERROR
    if (args.forbidden_login is None) != (args.forbidden_password is None):
        return _fail("--forbidden-login and --forbidden-password go together")
    secret = args.jwt_secret or os.environ.get(SECRET_ENV) or "secret"
    forbidden = (args.forbidden_login, args.forbidden_password) if args.forbidden_login else None
    deployment = drift.Side(args.base_url, args.login, args.password, forbidden, secret, args.timeout)
    try:
        allowed = _login_limit(deployment)
        with _mock(args, forbidden, secret, allowed) as mock_url:
            mock = drift.Side(mock_url, args.login, args.password, forbidden, secret, args.timeout)
            found = drift.compare(deployment, mock)
    except (drift.DriftError, SpecError, OSError, ValueError, requests.RequestException) as exc:
        return _fail(str(exc).replace(secret, "***") if len(secret) > 3 else str(exc))
    for line in drift.report(found, args.verbose):
        print(line)
    if args.report is not None:
        args.report.write_text(json.dumps(drift.summary(found), indent=2, ensure_ascii=False), encoding="utf-8")
    return 1 if found.unexplained else 0


def _fail(message: str) -> int:
    print(f"jobs-drift: {' '.join(message.split())}", file=sys.stderr)
    return USAGE_ERROR


def _login_limit(side: drift.Side) -> int | None:
    """The login rate limit the deployment advertises (RateLimit-Limit on a login's answer), if any; DriftError when
    what is left of it (RateLimit-Remaining) is less than the probes need."""
    answer = side.session.post(f"{side.url}/@login", json={"login": side.login, "password": side.password})
    if answer.status_code != 200:
        raise drift.DriftError(
            f"{side.url}: login as {side.login!r} answered {answer.status_code} {answer.text[:200]!r}; "
            "check --login/--password"
        )
    value, left = answer.headers.get("RateLimit-Limit", ""), answer.headers.get("RateLimit-Remaining", "")
    needed = drift.logins(drift.PROBES)
    if left.isdigit() and int(left) < needed:
        raise drift.DriftError(
            f"the requests send about {needed} logins and renewals, and the deployment allows this address {left} "
            "more for now (RateLimit-Remaining): raise its login rate limit (Nick: AUTH_RATE_LIMIT=1000), or try "
            f"again in {answer.headers.get('RateLimit-Reset', 'a few')} s"
        )
    return int(value) if value.isdigit() else None


@contextlib.contextmanager
def _mock(
    args: argparse.Namespace, forbidden: tuple[str, str] | None, secret: str, allowed: int | None
) -> Iterator[str]:
    """The mock to compare with: the one given, or one started with the deployment's users, secret and limit."""
    if args.mock_url:
        yield args.mock_url
        return
    from mockserver.config import MockConfig  # the suite needs the mock only here, and only when it starts one
    from mockserver.testing import LiveMock

    spec = load_spec(args.spec)
    limit = spec.rate_limit(find_operations(spec)[0])  # what counts logins, as the deployment advertises it
    users = [{"login": args.login, "password": args.password, "fullname": "Admin", "manageJobs": True}]
    if forbidden is not None:
        users.append({"login": forbidden[0], "password": forbidden[1], "fullname": "Editor", "manageJobs": False})
    with tempfile.TemporaryDirectory(prefix="jobs-drift-") as folder:
        users_file = Path(folder) / "users.json"
        users_file.write_text(json.dumps(users), encoding="utf-8")
        limits = ((limit.setting, allowed),) if limit is not None and allowed is not None else ()
        config = MockConfig(users=users_file, secret=secret, rate_limits=limits)
        with LiveMock(spec, config=config) as mock:
            yield mock.url


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
