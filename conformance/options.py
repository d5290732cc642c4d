"""The one table of the suite's options: the CLI's flags and the pytest plugin's `--jobs-*` options.

Both front ends build their parsers from `OPTIONS` and hand the raw values to `parse`, which
converts and validates them the same way for both, naming the flag as the user spelled it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from verdicts.exchanges import mask_url

DEFAULT_MAX_EXAMPLES = 100
DEFAULT_TIMEOUT = 10.0
# A run's own deadline: a full run at the defaults takes minutes against a slow deployment; half an hour ends it, its
# reports written, well within a CI job's own limit (GitLab's default is an hour).
DEFAULT_DEADLINE = 1800.0
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
AUTO_PROCESSES = 2  # the schema phase's default processes, where the machine has the cores
MOCK_TOKEN_ENV = "JOBS_MOCK_TOKEN"  # the mock's --control-token, when it was started with one
JWT_SECRET_ENV = "JOBS_JWT_SECRET"  # the deployment's JWT signing secret, for the well-signed forgeries
# The phases `--phases` may name, in the order they run: the registry (conformance.phases, which imports these
# options) checks on import that it registers exactly these, so the options need not import it.
PHASE_NAMES = ("auth", "lifecycle", "schema")
REQUIRE = re.compile(r"^(all|cells|(\d{1,3}(?:\.\d+)?)%)$")
HEADER = re.compile(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)$")


class OptionError(ValueError):
    """A value an option cannot take, or options that contradict each other (exit 2)."""


@dataclass(frozen=True)
class Options:
    """Everything a run is told, whichever front end told it."""

    base_url: str
    spec: Path | None = None
    login: str = "admin"
    password: str = "admin"
    token: str | None = None
    forbidden_login: str | None = None
    forbidden_password: str | None = None
    jwt_secret: str | None = None  # None: Nick's development secret
    fixtures: str = "none"
    mock_token: str | None = None
    read_only: bool = False
    allow_destructive: bool = False
    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int | None = None
    workers: int = 1
    processes: int | None = None  # None: as many as the machine has cores, at most AUTO_PROCESSES
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    phases: tuple[str, ...] = ()  # empty: every registered phase
    require: str | None = None
    header: tuple[tuple[str, str], ...] = ()
    insecure: bool = False
    cacert: Path | None = None
    junit: Path | None = None
    report: Path | None = None
    markdown: Path | None = None
    html: Path | None = None
    verbosity: int = 0
    flag_prefix: str = field(default="--", compare=False)
    ends: float | None = None  # when the run must end (`time.time()`), set by the run from `deadline`; no option

    def flag(self, name: str) -> str:
        """How the user spells the option `name` in the front end that made these options."""
        return self.flag_prefix + name.replace("_", "-")


def _base_url(text: str) -> str:
    shown = mask_url(text if "://" in text else f"http://{text}")  # no password of a user part in the message
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValueError(f"not a valid URL: {shown!r}") from None
    if "://" not in text:
        raise ValueError(f"must be an http(s) URL, not {shown.removeprefix('http://')!r}: did you mean {shown!r}?")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, not {shown!r}")
    if parts.username is not None or parts.password is not None:  # sent as Basic authentication, not the token
        raise ValueError(
            f"must carry no user or password, not {shown!r}: the suite logs in with its own token "
            "(a gateway's credentials go in a header)"
        )
    return text


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"must be a positive number of seconds, not {text}")
    return value


def _fixtures(text: str) -> str:
    if text in ("mock", "none") or (text.startswith("command:") and text.removeprefix("command:").strip()):
        return text
    raise ValueError(f"must be mock, none or command:CMD, not {text!r}")


def _require(text: str) -> str:
    match = REQUIRE.match(text)
    if match is None or (match.group(2) is not None and float(match.group(2)) > 100):
        raise ValueError(f"must be all, cells or a share like 90%, not {text!r}")
    return text


def _header(text: str) -> tuple[str, str]:
    match = HEADER.match(text)
    if match is None:
        raise ValueError("must be 'Name: value' (one line)")
    return match.group(1), match.group(2)


def _phases(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in PHASE_NAMES]
    if unknown or not names:
        raise ValueError(f"unknown phases {unknown}; known: {', '.join(PHASE_NAMES)}")
    return names


@dataclass(frozen=True)
class Option:
    """One option: its field in `Options`, its help, how a text value becomes the field's value."""

    name: str
    help: str
    convert: Callable[[str], Any] | None = str  # None: a switch (no value)
    metavar: str | None = None
    short: str | None = None
    repeat: bool = False
    env: str | None = None

    @property
    def default(self) -> Any:
        """The field's default in `Options`."""
        return next(f.default for f in fields(Options) if f.name == self.name)


OPTIONS: tuple[Option, ...] = (
    Option("base_url", "the deployment, e.g. http://localhost:8080 or https://cms.example.org/api", _base_url, "URL"),
    Option("spec", "the spec to check against (default: the packaged spec/jobs.yaml)", Path, "FILE"),
    Option("login", "a user who may manage jobs (default: admin)"),
    Option("password", "that user's password (default: admin)"),
    Option("token", "a token to use instead of logging in (session checks are then left out)"),
    Option("forbidden_login", "a user who may not manage jobs, for the 403 checks"),
    Option("forbidden_password", "that user's password"),
    Option(
        "jwt_secret",
        "the deployment's JWT signing secret, so that the suite can sign the tokens it must refuse (expired, of an "
        f"unknown user, never issued); never printed (default: ${JWT_SECRET_ENV}, else Nick's development secret)",
        metavar="SECRET",
        env=JWT_SECRET_ENV,
    ),
    Option(
        "fixtures",
        "how to get jobs in a given state: the mock's control API, only existing jobs (default), "
        "or CMD run with the wanted state appended, printing the new job's id last",
        _fixtures,
        "{mock,none,command:CMD}",
    ),
    Option(
        "mock_token",
        f"the mock's --control-token, for --fixtures mock (default: ${MOCK_TOKEN_ENV})",
        env=MOCK_TOKEN_ENV,
    ),
    Option("read_only", "send only GET requests and the login", None),
    Option("allow_destructive", "also act on jobs the suite did not create", None),
    Option("max_examples", f"schemathesis examples per operation (default: {DEFAULT_MAX_EXAMPLES})", _positive, "N"),
    Option("seed", "schemathesis seed, to repeat a run (default: random, printed)", int, "N"),
    Option(
        "workers",
        "no effect, kept so that existing command lines run: schemathesis sends one case at a time in each process "
        "(its pytest integration has no worker threads); --processes shares the phase (default: 1)",
        _positive,
        "N",
    ),
    Option(
        "processes",
        f"processes sharing the schema phase, each on its own core (default: the cores, at most {AUTO_PROCESSES})",
        _positive,
        "N",
    ),
    Option(
        "timeout",
        f"seconds for each request, connect to last byte, and the worker watch's budget (default: {DEFAULT_TIMEOUT:g})",
        _seconds,
        "S",
    ),
    Option(
        "deadline",
        "seconds the whole run may take: then it stops, exit 2, its reports written with what was done (default: "
        f"{DEFAULT_DEADLINE:g}); a run also stops once the deployment has stopped answering",
        _seconds,
        "S",
    ),
    Option(
        "max_response_bytes",
        f"a larger response is a failed check (default: {DEFAULT_MAX_RESPONSE_BYTES} = 10 MiB)",
        _positive,
        "N",
    ),
    Option("phases", "comma-separated phases to run (default: all, in their order)", _phases, "LIST"),
    Option(
        "require",
        "coverage gate: all (every check exercised), cells (every lifecycle cell) or N%% of the checks",
        _require,
        "{all,cells,N%}",
    ),
    Option(
        "header",
        "'Name: value' sent with every request, e.g. for a gateway (repeatable)",
        _header,
        "HEADER",
        "-H",
        True,
    ),
    Option("insecure", "do not verify the deployment's TLS certificate", None),
    Option("cacert", "verify the deployment's TLS certificate against this CA bundle", Path, "FILE"),
    Option("junit", "write a JUnit XML report", Path, "FILE"),
    Option("report", "write a JSON report", Path, "FILE"),
    Option("markdown", "write a Markdown report", Path, "FILE"),
    Option("html", "write a self-contained HTML report, with the lifecycle coloured by verdict", Path, "FILE"),
)


def argparse_settings(option: Option) -> dict[str, Any]:
    """How argparse (the CLI's, and pytest's) takes one option: raw text, converted later by `parse`."""
    if option.convert is None:
        return {"action": "store_true", "help": option.help}
    settings: dict[str, Any] = {"help": option.help, "metavar": option.metavar}
    if option.repeat:
        settings["action"] = "append"
    return settings


def parse(values: Mapping[str, Any], *, flag_prefix: str = "--", verbosity: int = 0) -> Options:
    """Options from raw values by field name (text, True for a switch, a list when repeatable); OptionError when wrong."""
    given: dict[str, Any] = {}
    for option in OPTIONS:
        raw = values.get(option.name)
        if raw is None and option.env:
            raw = os.environ.get(option.env) or None
        if raw is None or raw is False or raw == []:
            continue
        given[option.name] = _convert(option, raw, flag_prefix)
    if "base_url" not in given:
        raise OptionError(f"{flag_prefix}base-url is required")
    options = Options(**given, verbosity=verbosity, flag_prefix=flag_prefix)
    _cross_check(options)
    return options


def _convert(option: Option, raw: Any, flag_prefix: str) -> Any:
    if option.convert is None:
        return bool(raw)
    try:
        if option.repeat:
            return tuple(option.convert(str(item)) for item in raw)
        return option.convert(str(raw))
    except ValueError as exc:
        flag = flag_prefix + option.name.replace("_", "-")
        raise OptionError(f"{flag}: {_why(exc)}") from None


def _why(exc: ValueError) -> str:
    text = str(exc)
    return "not a number" if text.startswith(("invalid literal", "could not convert")) else text


def _cross_check(options: Options) -> None:
    if options.read_only and options.allow_destructive:
        raise OptionError(f"{options.flag('read_only')} and {options.flag('allow_destructive')} contradict each other")
    if options.insecure and options.cacert is not None:
        raise OptionError(f"{options.flag('insecure')} and {options.flag('cacert')} contradict each other")
    if options.cacert is not None and not options.cacert.is_file():
        raise OptionError(f"{options.flag('cacert')}: no such file: {options.cacert}")
