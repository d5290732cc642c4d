"""The one table of `jobs-mock`'s options: its parser, its MockConfig, its defaults and its flag reference.

Each option names the MockConfig field it sets (or None for what the CLI takes itself: the spec
file, latency and faults, which become `faults`); its default is that field's default in
`mockserver.config`, the one place defaults live; `parser` builds argparse from the table,
`config_from` the MockConfig, `reference` the Markdown table of the docs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from httpserving.hosts import check_host_names
from jobspec.lifecycle import MAX_SECONDS
from mockserver import logs
from mockserver.config import MockConfig
from mockserver.domain.faults import parse_latency
from mockserver.http.cors import check_origins
from mockserver.http.saver import SYNC_MODES

LEVELS = ("debug", "info", "warning", "error")
MAX_COUNT = 10_000_000  # a journal this long already takes gigabytes
MAX_TIMEOUT = 86_400.0  # a day: longer is no timeout at all
MAX_SPEED = 10_000.0  # even so, the mock's clock takes most of a year to reach the year 9999


def count(text: str) -> int:
    """A whole number from 1 to MAX_COUNT."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_COUNT:,}, got {text}")
    return value


def between(low: float, high: float) -> Callable[[str], float]:
    """A number greater than `low` and at most `high` (never NaN or infinite)."""

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low < value <= high:  # NaN fails this too
            raise argparse.ArgumentTypeError(f"must be greater than {low:g} and at most {high:g}, got {text}")
        return value

    return number


def json_object(text: str) -> dict[str, Any]:
    """A JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def rate_limit(text: str) -> tuple[str, int]:
    """SETTING=N."""
    setting, equals, number = text.partition("=")
    if not equals or not setting.strip():
        raise argparse.ArgumentTypeError(f"expected SETTING=N, e.g. AUTH_RATE_LIMIT=5, got {text!r}")
    return setting.strip(), count(number.strip())


def host_name(text: str) -> str:
    """A Host name the mock answers (or `*`)."""
    try:
        return check_host_names([text])[0]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--allowed-host: ")) from None


@dataclass(frozen=True)
class MockOption:
    """One flag: the MockConfig field it sets (None: the CLI's own), how its text becomes a value, its help."""

    flag: str
    help: str
    field: str | None = None
    convert: Callable[[str], Any] | None = str  # None: a switch
    metavar: str | None = None
    repeat: bool = False
    choices: tuple[str, ...] | None = None
    negates: bool = False  # a switch that sets its field False (`--no-control`)
    default_text: str | None = None  # what the help says the default is, when not the field's own

    @property
    def dest(self) -> str:
        """The argparse destination: the field's name, or the flag's."""
        return self.field or self.flag.removeprefix("--").replace("-", "_")

    def default(self) -> Any:
        """The field's default in MockConfig (None for a CLI-only option)."""
        if self.field is None:
            return None
        found = next(f for f in fields(MockConfig) if f.name == self.field)
        return found.default if found.default is not MISSING else None

    def described(self) -> str:
        """The help, with the default said."""
        if self.convert is None:
            return self.help
        shown = self.default_text if self.default_text is not None else _shown(self.default())
        return f"{self.help} (default: {shown})"


def _shown(value: Any) -> str:
    if value is None or value == ():
        return "none"
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


OPTIONS: tuple[MockOption, ...] = (
    MockOption("--host", "address to listen on", "host"),
    MockOption("--port", "port to listen on; 0 picks a free one", "port", int),
    MockOption("--data", "jobs to start with, a YAML or JSON list of jobs", "data", Path, default_text="built-in"),
    MockOption("--frozen", "the worker never moves a job by itself", "frozen", None),
    MockOption("--speed", "how fast the worker moves jobs", "speed", between(0, MAX_SPEED)),
    MockOption(
        "--schedule", "create a new scheduled job every SECONDS", "schedule", between(0, MAX_SECONDS), "SECONDS",
        default_text="off",
    ),
    MockOption("--seed", "make ids, outcomes and timings deterministic", "seed", int),
    MockOption("--users", "users file: [{login, password, fullname, manageJobs}]", "users", Path,
               default_text="admin/admin, editor/editor123"),
    MockOption("--secret", "JWT signing secret", "secret", default_text="Nick's development 'secret'"),
    MockOption("--no-control", "switch the /__mock__/ API off", "control", None, negates=True),
    MockOption("--control-token", "require this X-Mock-Token header on the /__mock__/ API", "control_token"),
    MockOption(
        "--cors-origin", "allow this browser origin, with credentials; repeatable", "cors_origins", metavar="ORIGIN",
        repeat=True,
    ),
    MockOption(
        "--allowed-host",
        "also answer requests whose Host is NAME (besides localhost, 127.0.0.1, [::1] and --host); repeatable; "
        "'*' allows any",
        "allowed_hosts", host_name, "NAME", repeat=True,
    ),
    MockOption("--state-file", "keep jobs, the tokens it holds and the clock in FILE across restarts", "state_file",
               Path, "FILE"),
    MockOption(
        "--journal-size", "keep the newest N journal entries, and as many of the mock's own errors", "journal_size",
        count, "N",
    ),
    MockOption(
        "--request-timeout",
        "a request's line and headers must arrive within SECONDS of its first byte (or of the connection), and its "
        "body within SECONDS more",
        "request_timeout", between(0, MAX_TIMEOUT), "SECONDS",
    ),
    MockOption(
        "--idle-timeout", "close a kept-alive connection that waits SECONDS for its next request", "idle_timeout",
        between(0, MAX_TIMEOUT), "SECONDS",
    ),
    MockOption(
        "--state-sync",
        "with --state-file: 'interval' writes changes four times a second (a kill -9 loses the last quarter "
        "second); 'always' writes each change before its answer is sent",
        "state_sync", choices=SYNC_MODES,
    ),
    MockOption(
        "--session-idle", "forget a session (X-Mock-Session, /__session/NAME/) unused this long", "session_idle",
        between(0, MAX_TIMEOUT), "SECONDS",
    ),
    MockOption("--max-sessions", "hold at most N sessions at once", "max_sessions", count, "N"),
    MockOption(
        "--memory-budget",
        "keep at most MB megabytes of jobs, job lists and journal entries, the mock's and every session's together: "
        "past it a new job or session is a 507 and journals drop their oldest entries",
        "memory_budget", count, "MB",
    ),
    MockOption(
        "--rate-limit",
        "enforce a rate limit of the spec as Nick does, N requests per window and client address, e.g. "
        "AUTH_RATE_LIMIT=5 (Nick's default for @login and @login-renew); repeatable",
        "rate_limits", rate_limit, "SETTING=N", repeat=True, default_text="no limits",
    ),
    MockOption("--latency", "delay every answer, e.g. 0.3 or 0.1-0.8", None, metavar="SECONDS|MIN-MAX",
               default_text="none"),
    MockOption(
        "--fault",
        'inject a fault, as POST /__mock__/faults takes it, e.g. \'{"operation": "getJobs", "status": 503}\'; '
        "repeatable",
        None, json_object, "JSON", repeat=True, default_text="none",
    ),
    MockOption(
        "--reload",
        "watch the --spec, --data and --users files and serve an edit without a restart (an invalid edit is "
        "refused, the last good one kept)",
        "reload", None,
    ),
    MockOption("--strict", "validate every response against the spec (slow)", "strict", None),
    MockOption("--log-level", "logging level", "log_level", choices=LEVELS),
    MockOption(
        "--log-format", "text, or json: one JSON object per line (time, level, logger, message), the start-up lines too",
        "log_format", choices=logs.FORMATS,
    ),
    MockOption(
        "--spec",
        "serve this OpenAPI 3.1 document with its x-job-lifecycle, e.g. a deployment's own copy",
        None, Path, "FILE", default_text="the packaged spec",
    ),
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of the table, as argparse takes it (defaults from MockConfig)."""
    for option in OPTIONS:
        if option.convert is None:
            action = "store_false" if option.negates else "store_true"
            parser.add_argument(option.flag, dest=option.dest, action=action, help=option.described())
            continue
        settings: dict[str, Any] = {"dest": option.dest, "help": option.described(), "metavar": option.metavar}
        if option.choices is not None:
            settings.update(choices=option.choices, metavar=None)
        else:
            settings["type"] = option.convert
        if option.repeat:
            settings.update(action="append", default=[])
        else:
            settings["default"] = option.default()
        parser.add_argument(option.flag, **settings)


def config_from(values: Mapping[str, Any]) -> MockConfig:
    """The MockConfig the parsed options describe (argparse's namespace as a mapping); ValueError for a refused
    combination."""
    given = {option.field: values[option.dest] for option in OPTIONS if option.field is not None}
    if given["state_sync"] != "interval" and given["state_file"] is None:
        raise ValueError(f"--state-sync {given['state_sync']} needs --state-file")
    latency = values.get("latency")
    given.update(
        cors_origins=check_origins(given["cors_origins"] or MockConfig().cors_origins),
        allowed_hosts=check_host_names(given["allowed_hosts"]),
        rate_limits=tuple(dict(given["rate_limits"]).items()),
        faults=tuple(([parse_latency(latency)] if latency else []) + list(values.get("fault") or [])),
    )
    return MockConfig(**given)


def reference() -> str:
    """The options as a Markdown table, for the docs (generated, never copied by hand)."""
    rows = ["| flag | what it does |", "|---|---|"]
    for option in OPTIONS:
        flag = option.flag if option.convert is None else f"{option.flag} {option.metavar or option.dest.upper()}"
        text = option.described().replace("|", r"\|")
        rows.append(f"| `{flag}` | {text} |")
    return "\n".join(rows) + "\n"
