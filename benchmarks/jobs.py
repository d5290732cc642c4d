"""Job data for the benchmark: valid jobs per the spec, written as the mock's `--data` file."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STATUSES = ("created", "running", "completed", "failed", "aborted")
HELD = 86_400.0  # a day: with --frozen too, a held job never moves during a run
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


def timestamp(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and `Z`, as the spec's Timestamp."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_job(index: int, status: str, rng: random.Random) -> dict[str, Any]:
    """One job in `status`, its timestamps and result consistent with the lifecycle invariants."""
    created = EPOCH + timedelta(seconds=index)
    started = created + timedelta(seconds=30) if status != "created" else None
    finished = started + timedelta(seconds=90) if started and status not in ("created", "running") else None
    params: dict[str, Any] = {"scheduled_job": f"reindex-{index % 7}", "action": "reindex", "type": "Event"}
    if status == "created":
        params["mock"] = {"delay": HELD}
    elif status == "running":
        params["mock"] = {"duration": HELD}
    result: dict[str, Any] = {}
    if status == "completed":
        result = {"reindexed": index % 1000}
    elif status == "failed":
        result = {"error": "Catalog unavailable"}
    return {
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "title": f"Reindex Events {index}",
        "description": "Reindex all events",
        "params": params,
        "actor": "admin",
        "created": timestamp(created),
        "started": timestamp(started) if started else None,
        "finished": timestamp(finished) if finished else None,
        "status": status,
        "result": result,
    }


def make_jobs(count: int, *, status: str | None = None, seed: int = 6) -> list[dict[str, Any]]:
    """`count` jobs, all in `status`, or cycling through every status when it is None."""
    rng = random.Random(seed)
    return [make_job(i, status or STATUSES[i % len(STATUSES)], rng) for i in range(count)]


def write_jobs(path: Path, jobs: list[dict[str, Any]]) -> Path:
    """Write `jobs` as a JSON list (the mock's `--data` format) and return the path."""
    path.write_text(json.dumps(jobs), encoding="utf-8")
    return path


def write_ids(path: Path, jobs: list[dict[str, Any]]) -> Path:
    """Write the jobs' ids one per line, for the load generator to walk through."""
    path.write_text("".join(job["uuid"] + "\n" for job in jobs), encoding="utf-8")
    return path
