"""Wall time of a full conformance run against a local mock, at default settings and in one process."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import servers

LIMIT_SECONDS = 10.0  # issue 14: the default run against the mock, with everything the verdict checks
# The default shares the schema phase among the cores (at most 2); `--processes 1` is the suite in one process.
VARIANTS: dict[str, list[str]] = {"default": [], "--processes 1": ["--processes", "1"]}


@dataclass(frozen=True)
class SuiteRun:
    """One conformance run: its options, wall time and exit code."""

    variant: str
    command: str
    seconds: float
    exit_code: int
    tail: str  # the run's last lines, for a failure

    @property
    def target_met(self) -> bool | None:
        """Under LIMIT_SECONDS for the default settings; no target for the other variants."""
        return self.seconds < LIMIT_SECONDS if self.variant == "default" else None


def command() -> list[str]:
    """How to run the suite: the installed `jobs-conformance`, else `python -m conformance`."""
    script = Path(sys.executable).with_name("jobs-conformance")
    found = str(script) if script.exists() else shutil.which("jobs-conformance")
    return [found] if found else servers.python_module("conformance")


def unavailable() -> str | None:
    """None when the suite's CLI runs and takes the options measured here; otherwise why not."""
    try:
        run = subprocess.run([*command(), "--help"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"the conformance CLI did not answer --help: {error}"
    if run.returncode != 0:
        lines = (run.stderr or run.stdout).strip().splitlines()
        return f"the conformance CLI is not there yet ({lines[-1] if lines else f'exit {run.returncode}'})"
    missing = [option for option in ("--base-url", "--fixtures", "--processes") if option not in run.stdout]
    return f"the conformance CLI has no {', '.join(missing)} yet" if missing else None


def run(variant: str, timeout: float = 900.0) -> SuiteRun:
    """One full suite run against a fresh mock at its default settings (clock running, no --frozen)."""
    with servers.mock(None, frozen=False) as mock:
        argv = [*command(), "--base-url", mock.base_url, "--fixtures", "mock", *VARIANTS[variant]]
        began = time.perf_counter()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
            exit_code, output = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            exit_code, output = -1, f"timed out after {timeout:.0f} s"
        seconds = time.perf_counter() - began
    shown = " ".join(part if part != mock.base_url else "http://127.0.0.1:PORT" for part in argv[len(command()) :])
    tail = "\n".join(output.strip().splitlines()[-5:])
    return SuiteRun(variant, f"jobs-conformance {shown}", seconds, exit_code, tail)
