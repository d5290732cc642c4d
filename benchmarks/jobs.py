"""Job data for the benchmark: consistent jobs of the spec's lifecycle, written as the mock's `--data` file."""

from __future__ import annotations

import json
import random
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from conformance.tokens import sign
from jobspec import Lifecycle, load_spec
from jobspec.invariants import job_in_state
from jobspec.timestamps import timestamp

HELD = 86_400.0  # a day: with --frozen too, a held job never moves during a run
EPOCH_MS = 1_761_955_200_000  # 2025-11-01T00:00:00.000Z
LATER_MS = EPOCH_MS + 10 * 86_400_000  # when every benchmark job has reached its state


def make_jobs(count: int, *, state: str | None = None, seed: int = 6) -> list[dict[str, Any]]:
    """`count` jobs held in `state`, or cycling through every state of the lifecycle when it is None.

    jobspec builds one consistent job per state; each job is that job with its own id, title and
    creation time (all before the other timestamps, so each stays consistent).
    """
    lifecycle = load_spec().lifecycle
    states = [state] if state else list(lifecycle.states)
    models = {name: job_in_state(lifecycle, name, _base(lifecycle), LATER_MS) for name in states}
    rng = random.Random(seed)
    creation = _creation(lifecycle)
    return [_job(models[states[i % len(states)]], i, rng, creation) for i in range(count)]


def _base(lifecycle: Lifecycle) -> dict[str, Any]:
    hold = {step.setting: HELD for step in lifecycle.worker.values()}
    params = {"scheduled_job": "reindex", "action": "reindex", "type": "Event", "mock": hold}
    fields = {"description": "Reindex all events", "params": params, "actor": "admin", "result": {}}
    return {**fields, "uuid": "", "title": "", _creation(lifecycle): EPOCH_MS}


def _creation(lifecycle: Lifecycle) -> str:
    """The job's creation time: the first of the timestamps the lifecycle orders."""
    return lifecycle.invariants.ordered_timestamps[0]


def _job(model: dict[str, Any], index: int, rng: random.Random, creation: str) -> dict[str, Any]:
    params = {**model["params"], "scheduled_job": f"reindex-{index % 7}"}
    return {
        **model,
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "title": f"Reindex Events {index}",
        "params": params,
        creation: timestamp(EPOCH_MS + index * 1000),
    }


def write_jobs(path: Path, jobs: list[dict[str, Any]]) -> Path:
    """Write `jobs` as a JSON list (the mock's `--data` format) and return the path."""
    path.write_text(json.dumps(jobs), encoding="utf-8")
    return path


def write_ids(path: Path, jobs: list[dict[str, Any]]) -> Path:
    """Write the jobs' ids one per line, for the load generator to walk through."""
    path.write_text("".join(job["uuid"] + "\n" for job in jobs), encoding="utf-8")
    return path


def write_tokens(path: Path, count: int, *, login: str = "admin") -> Path:
    """`count` distinct tokens for `login`, one per line, signed as the mock signs its own (HS256, Nick's secret)."""
    now = int(time.time())
    claims = {"sub": login, "fullname": login.title(), "iat": now, "exp": now + 12 * 3600}
    tokens = (sign({**claims, "jti": secrets.token_hex(16)}) for _ in range(count))
    path.write_text("".join(token + "\n" for token in tokens), encoding="utf-8")
    return path
