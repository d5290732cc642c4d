"""The machine the figures come from, and how busy other processes kept it during a run."""

from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def describe(generator_name: str) -> dict[str, Any]:
    """CPU, cores, memory, OS, Python, aiohttp and the load generator."""
    return {
        "cpu": _first("/proc/cpuinfo", "model name", platform.processor() or "unknown"),
        "cores": os.cpu_count(),
        "memory_gib": round(int(_first("/proc/meminfo", "MemTotal", "0 kB").split()[0]) / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "aiohttp": metadata.version("aiohttp"),
        "load_generator": generator_name,
    }


def _first(path: str, key: str, default: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return default


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far: by the whole machine, by one server, by our children (wrk) and us.

    The server's is its process tree's: a server that forks workers (a peer might) is billed for them too.
    """

    wall: float
    machine: float
    server: float
    ours: float

    @classmethod
    def take(cls, server_pid: int) -> CpuSample:
        """Read the counters now."""
        user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(
            int, Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
        )
        # Interrupt time is left out: on loopback it is mostly our own traffic, charged to no process.
        busy = user + nice + system + steal
        server = tree_ticks(server_pid)
        children, me = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
        ours = children.ru_utime + children.ru_stime + me.ru_utime + me.ru_stime
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return cls(uptime, busy / TICKS, server / TICKS, ours)

    def others_since(self, before: CpuSample) -> float:
        """Cores other processes kept busy between `before` and now (0: the machine was ours)."""
        wall = self.wall - before.wall
        if wall <= 0:
            return 0.0
        others = (self.machine - before.machine) - (self.server - before.server) - (self.ours - before.ours)
        return max(0.0, others / wall)


def tree_ticks(pid: int) -> int:
    """CPU ticks (user + system) of a process and of every process below it, the reaped ones included."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            stat = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            # utime + stime, and cutime + cstime: what its children used before they ended and were reaped
            total += sum(int(stat[index]) for index in (11, 12, 13, 14))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            if current == pid:
                raise
    return total


def wait_idle(pid: int, *, poll: float = 0.2, limit: float = 60.0) -> float:
    """Wait until a server's process tree stops using CPU (two polls alike), at most `limit` seconds; how long it took.

    A server still working on the answers of a run that ended (a slow server's large lists, whose clients
    have gone) would bill that work to the next run's requests.
    """
    began = time.monotonic()
    last = tree_ticks(pid)
    while time.monotonic() - began < limit:
        time.sleep(poll)
        now = tree_ticks(pid)
        if now == last:
            break
        last = now
    return time.monotonic() - began
