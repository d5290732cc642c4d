"""The mock's memory with many jobs loaded, read from the `memory` scenario's runs."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.scenarios import ScenarioResult

MB = 1_000_000  # decimal megabytes: the target's "300 MB" read strictly (286 MiB)
LIMIT_MB = 300


@dataclass(frozen=True)
class Memory:
    """Resident memory of one server process over a scenario, in MB (10^6 bytes)."""

    server: str
    jobs: int
    startup_seconds: float
    rss_loaded: float  # after start-up, jobs loaded, nothing served yet
    rss_served: float  # after the runs (serialisation caches included)
    peak: float  # VmHWM: the most it ever held
    restored: bool = False  # the mock restarted from a state file of these jobs (the bare route: from --data)

    @property
    def target_met(self) -> bool:
        """Under 300 MB resident with the jobs loaded (the target as issue 6 states it)."""
        return self.rss_loaded < LIMIT_MB

    @property
    def served_under_limit(self) -> bool:
        """Still under 300 MB after serving the list (serialisation caches and transport buffers included)."""
        return self.rss_served < LIMIT_MB


def figures(result: ScenarioResult) -> list[Memory]:
    """The memory figures of every server that ran `result`'s scenario."""
    return [
        Memory(
            server=runs.server,
            jobs=runs.jobs,
            startup_seconds=runs.startup_seconds,
            rss_loaded=runs.rss_start.get("VmRSS", 0) / MB,
            rss_served=runs.rss_end.get("VmRSS", 0) / MB,
            peak=runs.rss_end.get("VmHWM", 0) / MB,
            restored=result.scenario.restored and runs.server == "mock",
        )
        for runs in result.servers.values()
    ]
