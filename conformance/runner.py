"""Runs the phases in order against one deployment and returns the report."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable

from conformance.auth import log_in, run_auth
from conformance.client import Client, SetupError
from conformance.fixtures import Unavailable, make_fixtures
from conformance.lifecycle import WORKER, LifecyclePhase
from conformance.report import Report
from conformance.results import Results
from conformance.schema import run_schema
from conformance.target import Options, Target, find_operations
from jobspec import LifecycleError, Spec, SpecError, load_spec

REACHABILITY = "reachability"
STOCK_PER_STATE = 2  # jobs per state for schemathesis: one may be deleted early and the state still be there
Progress = Callable[[str], None]


def load(options: Options) -> Spec:
    """The spec the options name; SetupError when it cannot be used."""
    try:
        return load_spec(options.spec)
    except (SpecError, LifecycleError) as exc:
        raise SetupError(f"--spec: {exc}") from None


def connect(options: Options, spec: Spec, results: Results) -> Target:
    """Phase 1: reach the deployment, log in, and prepare the target; SetupError (exit 2) otherwise."""
    login, listing, item, id_field = find_operations(spec)
    client = Client(options.base_url, timeout=options.timeout)
    login_path = spec.operation(login).path
    client.token = log_in(client, login_path, options.login, options.password, options.token)
    client.keep_secret(client.token, "TOKEN")
    results.passed(REACHABILITY, "reachable", options.base_url)
    results.passed(REACHABILITY, "login", "token" if options.token else options.login)
    check = client.call(spec.operation(listing).method, spec.operation(listing).path)
    if check.response.status != 200:
        raise SetupError(
            f"{spec.operation(listing).path} answered {check.response.status} with the suite's credentials; "
            "they must belong to a user who may manage jobs"
        )
    fixtures = make_fixtures(
        options.fixtures,
        client,
        spec.lifecycle,
        spec.operation(listing).path,
        id_field,
        destructive=options.allow_destructive,
        timeout=options.timeout,
    )
    return Target(options, spec, client, fixtures, results, login, listing, item, id_field)


def run(options: Options, progress: Progress = lambda _: None) -> Report:
    """Every phase the options ask for; SetupError for usage and setup errors."""
    started = time.monotonic()
    if options.seed is None:
        options = dataclasses.replace(options, seed=random.randrange(2**31))
    spec = load(options)
    results = Results()
    progress(f"reachability: {options.base_url}")
    target = connect(options, spec, results)
    if "auth" in options.phases:
        progress("auth: every guarded operation without valid credentials")
        run_auth(target)
    # The lifecycle runs before schemathesis: with --fixtures none --allow-destructive, the stateful
    # phase would otherwise have deleted the existing jobs the lifecycle cells need.
    if "lifecycle" in options.phases:
        progress(f"lifecycle: every cell of {target.spec.path.name}'s x-job-lifecycle, fixtures {target.fixtures.name}")
        LifecyclePhase(target).run()
    if "schema" in options.phases:
        progress(f"schema: schemathesis, {options.max_examples} examples per operation, seed {options.seed}")
        _stock(target)
        run_schema(target, progress)
    lifecycle = spec.lifecycle
    columns = (*lifecycle.client_operations(), lifecycle.removal.operation, WORKER)
    return Report(
        base_url=options.base_url,
        spec=str(spec.path),
        fixtures=options.fixtures,
        results=results,
        states=tuple(lifecycle.states),
        columns=columns,
        elapsed=time.monotonic() - started,
        seed=options.seed,
    )


def _stock(target: Target) -> None:
    """Jobs of every state for schemathesis to act on, when the fixtures can make them."""
    if target.options.read_only or target.fixtures.name == "none":
        return
    for state in [*target.spec.lifecycle.states] * STOCK_PER_STATE:
        try:
            target.fixtures.obtain(state)
        except Unavailable:
            continue
