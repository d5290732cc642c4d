"""Starting jobs and users, from the packaged defaults or the user's files, checked before use."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from jobspec import Spec, files
from jobspec.invariants import job_in_state
from mockserver.domain import documents
from mockserver.domain.auth import User
from mockserver.domain.store import describe
from mockserver.domain.validation import compile_schema, schema_problems

BUILT_IN_NOW_MS = 1_648_933_200_000  # 2022-04-02T21:00:00.000Z: after the built-in jobs' own times


class DataError(ValueError):
    """A data or users file that cannot be used; the message names the file, the entry and the problem."""


def read_document(path: Path) -> Any:
    """A YAML or JSON file's content (JSON is YAML, but its errors read better as JSON's), read with the bounds of
    `jobspec.files` (a regular file, not too large, aliases that neither loop nor explode)."""
    try:
        text = files.read_text(path)
        document = json.loads(text) if path.suffix == ".json" else files.load_yaml(text, str(path))
        documents.check(document)
    except files.FileProblem as exc:
        raise DataError(str(exc)) from None
    except documents.DocumentError as exc:
        raise DataError(f"{path}: {exc}") from None
    except RecursionError:
        raise DataError(f"{path}: nested deeper than {documents.MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON: {exc}") from None
    return document


def _entries(document: Any, key: str, path: Path) -> list[Any]:
    if isinstance(document, dict) and key in document:
        document = document[key]
    if not isinstance(document, list):
        raise DataError(f"{path}: expected a list of {key} (or {{{key}: [...]}}), got {type(document).__name__}")
    return document


def load_jobs(spec: Spec, path: Path | None) -> tuple[list[dict[str, Any]], Path]:
    """The starting jobs and where they came from, each checked against the spec's Job schema.

    The lifecycle's invariants are checked as the store takes them (see `MockState.load`). The
    built-in jobs are the packaged spec's; a spec whose lifecycle names its states otherwise (a
    deployment's own copy) gets them made over into its own states, so that the mock starts on any
    valid spec alone.
    """
    source = path or Path(str(resources.files("mockserver.domain").joinpath("data.yaml")))
    document = read_document(source)
    if path is None:
        document = fitted(spec, _entries(document, "jobs", source))
    return check_jobs(spec, document, source), source


def fitted(spec: Spec, jobs: list[Any]) -> list[Any]:
    """The built-in jobs as they are where the spec's lifecycle has their states; else each made over into one of its
    states in turn (its other fields kept where the spec's Job schema has them, its timestamps as the state needs)."""
    lifecycle = spec.lifecycle
    if all(isinstance(job, dict) and job.get(lifecycle.status_field) in lifecycle.states for job in jobs):
        return jobs
    known = set(spec.schema("Job").get("properties", {}))
    states = list(lifecycle.states)
    made = []
    for index, job in enumerate(jobs):
        later = set(lifecycle.invariants.ordered_timestamps[1:])  # set or null as the new state says
        base = {k: v for k, v in job.items() if k in known and k != lifecycle.status_field and k not in later}
        made.append(job_in_state(lifecycle, states[index % len(states)], base, BUILT_IN_NOW_MS))
    return made


def check_jobs(spec: Spec, document: Any, source: Path) -> list[dict[str, Any]]:
    """Jobs from a document, each checked against the Job schema; DataError naming a bad one."""
    entries = _entries(document, "jobs", source)
    validator = job_validator(spec)
    for index, entry in enumerate(entries):
        check_job(validator, index, entry, source)
    return entries


def job_validator(spec: Spec) -> Any:
    """The spec's Job schema, compiled."""
    return compile_schema(spec.schema("Job"))


def check_job(validator: Any, index: int, entry: Any, source: Path) -> None:
    """DataError unless `entry`, the job at `index` of `source`, passes `validator` (see `job_validator`)."""
    problems = schema_problems(validator, entry)
    if problems:
        raise DataError(f"{source}: {describe(index, entry)} is not a valid Job: {'; '.join(problems)}")


USER_SCHEMA = {
    "type": "object",
    "required": ["login", "password"],
    "additionalProperties": False,
    "properties": {
        "login": {"type": "string", "minLength": 1},
        "password": {"type": "string", "minLength": 1},
        "fullname": {"type": "string"},
        "manageJobs": {"type": "boolean"},
    },
}


def load_users(path: Path) -> list[User]:
    """Users from a file: `[{login, password, fullname?, manageJobs?}]`, each checked against USER_SCHEMA."""
    validator = compile_schema(USER_SCHEMA)
    users: dict[str, User] = {}
    for index, entry in enumerate(_entries(read_document(path), "users", path)):
        login = entry.get("login") if isinstance(entry, dict) else None
        name = f"user {index}" + (f" ({login!r})" if isinstance(login, str) else "")
        problems = schema_problems(validator, entry, root="")
        if problems:
            raise DataError(f"{path}: {name}: {'; '.join(problems)}")
        if login in users:
            raise DataError(f"{path}: {name}: a user {login!r} is already listed")
        users[entry["login"]] = User.from_dict(entry)
    if not users:
        raise DataError(f"{path}: no users")
    return list(users.values())
