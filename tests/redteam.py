"""The suite measured against broken servers it was not written for, in the two settings of issue 10.

- `mock`: a real mock behind `evilproxy.EvilProxy`, which breaks its answers one way per
  breakage; the suite runs with `--fixtures mock`.
- `independent`: fakejobs broken one way per `brokenjobs.Breakage`; the suite runs with
  `--fixtures command:` (tests/scripts/make_job.py) and a forbidden user.

Each variant is one run of every phase (few examples, a fixed seed, a short timeout). Variants
run in child processes (`python -m tests.redteam SETTING:NAME...`, one JSON line per variant),
a few at a time: schemathesis's hooks are process-wide, and much of a run is waiting.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from conformance.options import Options
from conformance.runner import run
from mockserver.config import MockConfig
from mockserver.testing import LiveMock
from tests import brokenjobs, evilproxy
from tests.fakejobs import FORBIDDEN_USER
from verdicts.report import Report
from verdicts.results import Outcome

ROOT = Path(__file__).resolve().parent.parent
MAKE_JOB = ROOT / "tests" / "scripts" / "make_job.py"
CORRECT = "correct"  # the variant without breakage, in each setting
WORKERS = 3  # more children than cores: much of a run waits on the worker watch
EXAMPLES, SEED, TIMEOUT = 1, 1, 3.0  # every phase, few examples, a fixed seed, a short timeout
PROCESSES = 1  # one example per operation is soon done, and the variants already run a few at a time


@dataclass
class Measurement:
    """How the suite ended against one variant."""

    setting: str
    name: str
    description: str
    harmless: bool
    exit_code: int
    failed: list[str]
    error: str
    seconds: float

    @property
    def detected(self) -> bool:
        """Whether the suite did not pass the variant."""
        return self.exit_code != 0


@dataclass(frozen=True)
class Variant:
    """A server to measure the suite against: how to start it, and whether the suite must pass it."""

    name: str
    description: str
    harmless: bool
    serve: Callable[[], AbstractContextManager[Options]]


def _summary(report: Report) -> list[str]:
    return sorted({f"{r.phase}:{r.name}" for r in report.results if r.outcome is Outcome.FAILED})


# ---- the mock setting ------------------------------------------------------------------------


def _proxied(breakage: evilproxy.Breakage | None) -> Callable[[], AbstractContextManager[Options]]:
    @contextmanager
    def serve() -> Iterator[Options]:
        with LiveMock(config=MockConfig(seed=3)) as mock, evilproxy.EvilProxy(mock.url, breakage) as proxy:
            yield Options(
                base_url=proxy.url,
                fixtures="mock",
                max_examples=EXAMPLES,
                seed=SEED,
                timeout=TIMEOUT,
                processes=PROCESSES,
            )

    return serve


def mock_variants() -> dict[str, Variant]:
    """The mock behind the evil proxy: unbroken, and broken one way per breakage."""
    variants = {CORRECT: Variant(CORRECT, "the mock behind an unbroken proxy", True, _proxied(None))}
    for breakage in evilproxy.BREAKAGES.values():
        variants[breakage.name] = Variant(breakage.name, breakage.description, breakage.harmless, _proxied(breakage))
    return variants


# ---- the independent setting -----------------------------------------------------------------


def _independent(*changes: brokenjobs.Change) -> Callable[[], AbstractContextManager[Options]]:
    @contextmanager
    def serve() -> Iterator[Options]:
        with brokenjobs.serve(*changes) as server:
            yield Options(
                base_url=server.url,
                # -S: the script needs only the standard library, and starts twice as fast without site.
                fixtures=f"command:{shlex.quote(sys.executable)} -S {shlex.quote(str(MAKE_JOB))} {server.url}",
                forbidden_login=FORBIDDEN_USER[0],
                forbidden_password=FORBIDDEN_USER[1],
                max_examples=EXAMPLES,
                seed=SEED,
                timeout=TIMEOUT,
                processes=PROCESSES,
            )

    return serve


def independent_variants() -> dict[str, Variant]:
    """fakejobs: conformant, broken one way per new violation, and differing harmlessly."""
    variants = {CORRECT: Variant(CORRECT, "fakejobs as it is", True, _independent())}
    for change in [*brokenjobs.Breakage, *brokenjobs.Difference]:
        harmless = isinstance(change, brokenjobs.Difference)
        name = change.name.lower().replace("_", "-")
        variants[name] = Variant(name, change.value, harmless, _independent(change))
    return variants


SETTINGS: dict[str, Callable[[], dict[str, Variant]]] = {"mock": mock_variants, "independent": independent_variants}
# Variants measured only with JOBS_REDTEAM=all: each close to one that always runs, kept to measure with
# now and then (the whole catalogue takes about twice as long).
EXTENDED = {
    "mock": {
        "@id-relative",
        "params-null",
        "running-with-finished",
        "401-extra-member",
        "401-as-403",
        "unknown-user-accepted",
        "logout-twice-401",
        "renew-401-message",
        "list-octet-stream",
        "unknown-id-200",
        "abort-does-nothing",
        "refusal-as-message",
        "404-capitalised",
        "wrong-password-accepted",
        "token-without-exp",
        "login-token-renamed",
        "login-400-other-type",
    },
    "independent": {
        "refusal-as-message",
        "abort-sets-result",
        "retry-result-null",
        "delete-twice-204",
        "worker-finishes-early",
        "errors-text-plain",
        "slow",
    },
}


def chosen(everything: bool = False) -> list[tuple[str, str]]:
    """The variants to measure: all of them, or (by default) all but the extended ones."""
    return [
        (setting, name)
        for setting, make in SETTINGS.items()
        for name in make()
        if everything or name not in EXTENDED[setting]
    ]


# ---- measuring -------------------------------------------------------------------------------


def measure(setting: str, name: str) -> Measurement:
    """Run the suite against one variant, in this process."""
    variant = SETTINGS[setting]()[name]
    started = time.monotonic()
    with variant.serve() as options:
        report = run(options)
    return Measurement(
        setting,
        name,
        variant.description,
        variant.harmless,
        report.exit_code,
        _summary(report),
        report.error,
        round(time.monotonic() - started, 1),
    )


def _child(variants: list[tuple[str, str]]) -> list[Measurement]:
    command = [sys.executable, "-m", "tests.redteam", *(f"{setting}:{name}" for setting, name in variants)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    found = [Measurement(**json.loads(line)) for line in done.stdout.splitlines() if line.startswith("{")]
    if len(found) != len(variants):
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    return found


def measure_all(variants: list[tuple[str, str]] | None = None, workers: int = WORKERS) -> list[Measurement]:
    """Every variant of every setting (or those named as (setting, name)), in `workers` child processes."""
    variants = variants or chosen()
    shares = [variants[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        parts = pool.map(lambda share: _child(share) if share else [], shares)
    return sorted((m for part in parts for m in part), key=lambda m: variants.index((m.setting, m.name)))


def table(measurements: list[Measurement]) -> str:
    """One line per variant: verdict, exit code, time, and the checks that failed."""
    lines = []
    for m in measurements:
        mark = (
            ("ok" if not m.detected else "FAILED (harmless!)") if m.harmless else ("caught" if m.detected else "MISSED")
        )
        why = m.error or ", ".join(m.failed)
        lines.append(f"{m.setting:11} {m.name:28} {mark:8} exit {m.exit_code} {m.seconds:5.1f}s  {why[:200]}")
    return "\n".join(lines)


def rates(measurements: list[Measurement]) -> str:
    """Per setting: breakages detected, and harmless variants passed."""
    lines = []
    for setting in SETTINGS:
        broken = [m for m in measurements if m.setting == setting and not m.harmless]
        harmless = [m for m in measurements if m.setting == setting and m.harmless]
        caught, passed = sum(m.detected for m in broken), sum(not m.detected for m in harmless)
        share = 100 * caught / max(1, len(broken))
        lines.append(
            f"{setting}: {caught}/{len(broken)} breakages detected ({share:.0f}%), {passed}/{len(harmless)} passed"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """`python -m tests.redteam`: measure and print a table (JOBS_REDTEAM=all: every variant).

    With `SETTING:NAME...` (how `measure_all` calls it): measure those here, one JSON line each.
    """
    if not argv:
        found = measure_all(chosen(everything=os.environ.get("JOBS_REDTEAM") == "all"))
        print(table(found), rates(found), sep="\n")
        return 0
    for variant in argv:
        setting, _, name = variant.partition(":")
        print(json.dumps(asdict(measure(setting, name))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
