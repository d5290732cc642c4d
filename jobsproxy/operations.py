"""Which operation of the spec a request is for, and its path parameters.

Nick mounts every view under any content path too (`/news/@jobs` reaches the same jobs), so a
spec path matches with any leading content path before it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from jobspec import Operation, Spec

PARAMETER = re.compile(r"\{([^}/]+)\}")
CONTENT_PATH = r"(?:/[^/@][^/]*)*"  # content segments; the API's own segments start with @


class OperationMap:
    """The spec's operations, each with a pattern for its path and the names of its path parameters."""

    def __init__(self, spec: Spec) -> None:
        self.patterns = [(operation, *_pattern(operation.path)) for operation in spec.operations.values()]

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation `method path` calls, with its path parameters decoded; None if it is no operation."""
        for operation, pattern, names in self.patterns:
            found = pattern.fullmatch(path) if operation.method == method else None
            if found is not None:
                return operation, {name: unquote(value) for name, value in zip(names, found.groups(), strict=True)}
        return None


def _pattern(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    parts, names, position = [CONTENT_PATH], [], 0
    for found in PARAMETER.finditer(template):
        parts += [re.escape(template[position : found.start()]), "([^/]+)"]
        names.append(found.group(1))
        position = found.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts)), tuple(names)
