"""Runs the registered phases in order against one deployment and returns the report.

A run that has started always ends in a report, also when a phase stops it: a setup error, an
unexpected exception, the run's deadline, a deployment that has stopped answering, or (through the
CLI) a SIGINT or SIGTERM becomes the report's `error` (exit 2; 130 or 143 for the signals), with
what was done until then.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
import traceback

from conformance import budget
from conformance.client import Client, SetupError, make_client, setup_problem
from conformance.fixtures import make_fixtures
from conformance.options import Options
from conformance.phases import PHASES
from conformance.target import Progress, Target
from conformance.transport import RunStopped
from jobspec import LifecycleError, Spec, SpecError, load_spec
from jobspec.operations import find_operations
from verdicts.coverage import columns, expected_cells
from verdicts.exchanges import MIN_SECRET, Exchange, mask_url
from verdicts.report import Report
from verdicts.results import SETUP, Results


def load(options: Options) -> Spec:
    """The spec the options name; SetupError when it cannot be used."""
    try:
        return load_spec(options.spec)
    except (SpecError, LifecycleError, OSError) as exc:
        raise SetupError(f"{options.flag('spec')}: {exc}") from None


def connect(options: Options, spec: Spec, results: Results, progress: Progress) -> Target:
    """Reach the deployment, log in, and prepare the target; SetupError (exit 2) otherwise."""
    login, listing, item, id_field = find_operations(spec)
    client = make_client(options)
    client.limits = {
        (spec.operation(name).method, spec.operation(name).path): limit
        for limit in spec.rate_limits.values()
        for name in limit.operations
    }
    answers: dict[str, Exchange] = {}  # operationId -> the setup's answer to it (what is left of its rate limit)
    progress(f"{SETUP}: {mask_url(client.base_url)}")
    reach = client.call("GET", "/", token=None)
    if reach.response.error:
        raise SetupError(f"{mask_url(client.base_url)} is unreachable: {reach.response.error}")
    setup_problem(client, reach)
    results.passed(SETUP, "reachable", mask_url(options.base_url))
    if options.token is not None:
        client.token = options.token
    else:
        client.token = client.login(
            spec.operation(login).path,
            options.login,
            options.password,
            flags=f"{options.flag('login')}/{options.flag('password')}",
        )
        if client.last_login is not None:
            answers[login] = client.last_login
    client.keep_secret(client.token, "TOKEN")
    if options.jwt_secret:
        client.keep_secret(options.jwt_secret, "JWT_SECRET")
    results.passed(SETUP, "login", "token" if options.token else options.login)
    check = client.call(spec.operation(listing).method, spec.operation(listing).path)
    setup_problem(client, check)
    answers[listing] = check
    no_jobs_api = _no_jobs_api(options, client, check)
    problem = budget.problem(spec, options, chosen(options), answers)
    if problem is not None:
        raise SetupError(problem)
    fixtures = make_fixtures(options, client, spec.lifecycle, spec.operation(listing).path, id_field)
    return Target(options, spec, client, fixtures, results, login, listing, item, id_field, no_jobs_api)


def _no_jobs_api(options: Options, client: Client, check: Exchange) -> str:
    """Why the deployment has no jobs API ("" when it has one); SetupError when the phases chosen need one, or when
    the suite's credentials may not manage jobs."""
    response, request = check.response, check.request
    shown = f"{request.method} {request.url} answered {response.received}"
    body = " ".join(client.redact(response.body[:200]).split())
    body = f" {body!r}" if body else ""
    if response.status == 200:
        return ""
    if response.status != 404:
        raise SetupError(f"{shown}{body} with the suite's credentials; they must belong to a user who may manage jobs")
    why = f"the deployment has no jobs API: {shown}{body}"
    needing = [name for name in chosen(options) if PHASES[name].needs_jobs_api]
    if needing:
        raise SetupError(
            f"{why}. The {', '.join(needing)} phases need one (Nick 2.8.0 has none: a Nick site adds it as a route, "
            f"see the kit's docs on Nick); {options.flag('phases')} auth checks its login, renewal and logout alone"
        )
    return why


def chosen(options: Options) -> tuple[str, ...]:
    """The phases to run, in registry order."""
    return tuple(name for name in PHASES if not options.phases or name in options.phases)


class Run:
    """One run, step by step: connect, then each phase in order; `report` holds what was done."""

    def __init__(self, options: Options, progress: Progress = lambda _: None) -> None:
        self.started = time.monotonic()
        if options.seed is None:
            options = dataclasses.replace(options, seed=random.randrange(2**31))
        if options.ends is None:  # one end for every process of the run
            options = dataclasses.replace(options, ends=time.time() + options.deadline)
        self.options, self.progress = options, progress
        spec = load(options)
        self.spec = spec
        self.target: Target | None = None
        self.done: list[str] = []
        self.now = "its setup"  # what the run is doing, for a message saying where it stopped
        self.report = Report(
            base_url=mask_url(options.base_url),
            spec=str(spec.path),
            fixtures=options.fixtures.split(":", 1)[0],
            results=Results(),
            states=tuple(spec.lifecycle.states),
            columns=columns(spec.lifecycle),
            phases=(SETUP, *chosen(options)),
            seed=options.seed,
            require=options.require,
            require_flag=options.flag("require"),
            cells=expected_cells(spec),
            lifecycle=spec.lifecycle,
        )

    def until(self, phase: str | None = None) -> Report:
        """Connect, then run the chosen phases in order up to `phase` (all when None, none when SETUP); never raises."""
        names = chosen(self.options)
        wanted = names[: names.index(phase) + 1] if phase in names else () if phase == SETUP else names
        try:
            if self.target is None and not self.report.error:
                self.now = "its setup"
                self.report.results.start()
                self.target = connect(self.options, self.spec, self.report.results, self.progress)
                for name in names:
                    PHASES[name].prepare(self.options)
            for name in wanted:
                if name not in self.done and not self.report.error:
                    self.done.append(name)
                    self.now = f"the {name} phase"
                    self.report.results.start()  # the time since the last phase (a pytest session's) is none of this one's
                    PHASES[name].run(self.target, self.progress)  # type: ignore[arg-type]
        except SetupError as exc:
            self.report.error = str(exc)
        except RunStopped as exc:
            self.report.error = f"{exc}; the run stopped in {self.now}, and its reports hold what it did until then"
        except Exception as exc:  # noqa: BLE001 (any failure of the suite ends the run as an error, with a report)
            self.report.error = f"the suite failed: {type(exc).__name__}: {exc}"
            self.report.trace = traceback.format_exc()
        return self.finish()

    def interrupted(self, how: str) -> Report:
        """The report of a run ended by a signal (`how`: Ctrl-C, SIGTERM) wherever it was: no verdict, and what was
        done until then."""
        self.report.interrupted = how
        self.report.error = (
            f"interrupted ({how}) in {self.now}: no verdict; the reports hold what the run did until then"
        )
        return self.finish()

    def finish(self) -> Report:
        """The report as it stands, secrets masked."""
        if self.target is not None:
            self.report.results.scrub(self.target.client.redact)
            self.report.error = self.target.client.redact(self.report.error)
        self.report.error = mask_options(self.options, self.report.error)
        self.report.elapsed = time.monotonic() - self.started
        return self.report


def run(options: Options, progress: Progress = lambda _: None) -> Report:
    """Every phase the options ask for; SetupError when the spec cannot be loaded (the run never starts)."""
    return Run(options, progress).until()


def mask_options(options: Options, text: str) -> str:
    """`text` without the secrets the options carry (for errors raised before the client knew them).

    A login name is no secret: it stays where it stands, also when a password is the same word (admin/admin)."""
    secrets = [options.token, options.password, options.forbidden_password, options.mock_token, options.jwt_secret]
    logins = [name for name in (options.login, options.forbidden_login) if name]
    for secret in [*secrets, *(value for _, value in options.header)]:
        if secret and len(secret) >= MIN_SECRET and secret not in logins:
            # At each place the longest of the secret and the login names wins: `editor123` is masked, `admin` kept.
            words = sorted([secret, *logins], key=len, reverse=True)
            pattern = "|".join(f"(?P<secret>{re.escape(w)})" if w == secret else re.escape(w) for w in words)
            text = re.sub(pattern, lambda match: "***" if match.group("secret") else match.group(0), text)
    return text
