"""Which of the spec's operations play which part: login, renewal and logout; the jobs' list and item."""

from __future__ import annotations

from jobspec.loader import Operation, Spec


def find_operations(spec: Spec) -> tuple[str, str, str, str]:
    """Login, list and item operations, and the jobs' id field, as the spec names them."""
    lifecycle = spec.lifecycle
    listing = lifecycle.removal.listed_by
    items = [op for op in lifecycle.removal.afterwards_operations if spec.operation(op).method == "GET"]
    item = items[0] if items else listing
    logins = [op.operation_id for op in spec.operations.values() if op.definition.get("security") == []]
    login = logins[0] if logins else "login"
    job = spec.schema("Job").get("properties", {})
    ids = [name for name, schema in job.items() if schema.get("format") == "uuid"]
    return login, listing, item, ids[0] if ids else "uuid"


def session_operations(spec: Spec) -> tuple[Operation, Operation | None, Operation | None]:
    """Login, renewal and logout as the spec has them: the operations outside the jobs' paths."""
    login_id, listing, _, _ = find_operations(spec)
    jobs_path = spec.operation(listing).path
    others = [op for op in spec.operations.values() if not op.path.startswith(jobs_path)]
    login = spec.operation(login_id)
    renew = next((op for op in others if op is not login and 200 in op.documented_statuses), None)
    logout = next((op for op in others if op not in (login, renew)), None)
    return login, renew, logout
