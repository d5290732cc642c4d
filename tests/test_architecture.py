"""The rooms and their arrows: which package may import which, and no circle of imports anywhere.

Every module of the kit's packages is read with `ast`, not imported: every import counts, at the top
of a module, inside a function, or under `TYPE_CHECKING` (`import a.b`, `from a.b import c`, relative
imports, and `from pkg import module` naming the module itself); so do the plugins a pytest plugin
names in `pytest_plugins`. An import is an arrow to the module it names, as import-linter (grimp)
draws it: `from a.b import name` points at `a.b`, `from a.b import module` at `a.b.module`.

Modules are found by walking the package folders, so the rules hold whatever the layout inside a
package (mockserver's sub-packages included).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("jobspec", "verdicts", "httpserving", "mockserver", "conformance", "jobsproxy", "benchmarks")
INSTALLED = (
    "jobspec",
    "verdicts",
    "httpserving",
    "mockserver",
    "conformance",
    "jobsproxy",
)  # benchmarks are not installed

# package -> the kit's packages it must never import (its own sub-packages aside).
FORBIDDEN = {
    "jobspec": {"verdicts", "httpserving", "mockserver", "conformance", "jobsproxy", "benchmarks"},
    # Serving HTTP safely knows nothing of jobs: the mock and the proxy stand on it.
    "httpserving": {"jobspec", "verdicts", "mockserver", "conformance", "jobsproxy", "benchmarks"},
    "verdicts": {"httpserving", "mockserver", "conformance", "jobsproxy", "benchmarks"},
    "jobsproxy": {"conformance", "mockserver", "benchmarks"},
    "mockserver": {"conformance", "verdicts", "jobsproxy", "benchmarks"},
    "conformance": {"jobsproxy", "mockserver", "benchmarks"},
}


class Allowed(NamedTuple):
    """Why a module may cross a line FORBIDDEN draws; `lazy`: only inside functions (or for the type checker),
    so that importing the module does not import the other package."""

    lazy: bool
    why: str


# (module, imported package) -> the exception, and its reason.
EXCEPTIONS = {
    ("conformance.plugin", "mockserver"): Allowed(
        lazy=True, why="the `jobs_mock` fixture embeds a live mock, imported when a test asks for it"
    ),
    ("conformance.mock_session", "mockserver"): Allowed(
        lazy=False,
        why="`jobs_mock_session` opens sessions through the mock's stdlib-only session client, and starts the whole "
        "mock (imported then) only when no shared mock is named",
    ),
    ("conformance.drift_cli", "mockserver"): Allowed(
        lazy=True, why="`jobs-drift` without `--mock-url` starts a mock to compare with, imported only then"
    ),
}


@dataclass(frozen=True)
class Arrow:
    """One import: `source` imports `target`; `lazy` when only a function (or the type checker) runs it."""

    source: str
    target: str
    lazy: bool
    line: int


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of `packages` under `root`, by dotted name, found by walking the folders."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "__pycache__" in parts or not all(part.isidentifier() for part in parts):
                continue
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def arrows(root: Path, packages: Iterable[str]) -> list[Arrow]:
    """Every import among the modules of `packages`, wherever in a module it stands."""
    known = modules(root, packages)
    return [arrow for name, path in known.items() for arrow in _arrows_of(name, path, known)]


def _arrows_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[Arrow]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node, lazy in _walk(tree, lazy=False):
        for target in _targets(node, package, known):
            if target != name:
                yield Arrow(name, target, lazy, getattr(node, "lineno", 0))


def _walk(node: ast.AST, *, lazy: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every node, and whether it runs only later: inside a function, or under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        deferred = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            yield child, lazy
            for statement in child.body:
                yield statement, True
                yield from _walk(statement, lazy=True)
            for statement in child.orelse:
                yield statement, lazy
                yield from _walk(statement, lazy=lazy)
            continue
        yield child, deferred
        yield from _walk(child, lazy=deferred)


def _targets(node: ast.AST, package: str, known: dict[str, Path]) -> list[str]:
    """The kit's modules one statement imports."""
    if isinstance(node, ast.Import):
        return [m for alias in node.names if (m := _module(alias.name, known))]
    if isinstance(node, ast.ImportFrom):
        base = _absolute(node, package)
        found = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
        names_only = len(found) < len(node.names)  # some names are not modules: the package itself is imported
        parent = _module(base, known) if names_only or not found else None
        return [*found, *([parent] if parent else [])]
    if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets):
        plugins = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
        names = [p.value for p in plugins if isinstance(p, ast.Constant) and isinstance(p.value, str)]
        return [m for plugin in names if (m := _module(plugin, known))]
    return []


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The module a `from … import` reads from, its dots resolved against `package`."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _module(dotted: str, known: dict[str, Path]) -> str | None:
    """The deepest of the kit's modules `dotted` names (`a.b.c` where `c` is a name in `a.b`: `a.b`)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def _graph(edges: Iterable[Arrow]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for arrow in edges:
        graph.setdefault(arrow.source, set()).add(arrow.target)
        graph.setdefault(arrow.target, set())
    return graph


def tangles(edges: Iterable[Arrow]) -> list[set[str]]:
    """The groups of modules that each reach all the others of their group (Tarjan's strongly connected
    components of more than one module)."""
    graph = _graph(edges)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def cycles(edges: Iterable[Arrow]) -> list[list[str]]:
    """One circle of imports through each tangle: a path that leaves its first module and comes back to it."""
    edges = list(edges)
    graph = _graph(edges)
    return [_circle(graph, group) for group in tangles(edges)]


def _circle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """One path through `group` from its first module back to it (breadth first: the shortest)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & group):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"no way back to {start} in {sorted(group)}")


def _shown(arrow: Arrow) -> str:
    where = "inside a function" if arrow.lazy else "at module level"
    return f"{arrow.source} imports {arrow.target} (line {arrow.line}, {where})"


def _package(module: str) -> str:
    return module.split(".", 1)[0]


KIT = arrows(ROOT, PACKAGES)


def test_every_package_is_read() -> None:
    found = modules(ROOT, PACKAGES)
    assert {_package(name) for name in found} == set(PACKAGES)
    assert "conformance.phases.schema" in found and "verdicts.checks" in found


def test_no_circle_of_imports() -> None:
    """No module reaches itself through the modules it imports, imports inside functions included."""
    shown = [
        f"{' -> '.join(circle)}  (in a tangle of {', '.join(sorted(group))})"
        for circle, group in zip(cycles(KIT), tangles(KIT), strict=True)
    ]
    assert shown == [], "circles of imports:\n" + "\n".join(shown)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_arrows_point_down(package: str) -> None:
    """jobspec <- verdicts <- {conformance, jobsproxy}; {jobspec, httpserving} <- mockserver; the suite reaches the mock only
    through HTTP, but for the exceptions listed (each with its reason)."""
    wrong = []
    for arrow in KIT:
        if _package(arrow.source) != package or _package(arrow.target) not in FORBIDDEN[package]:
            continue
        allowed = EXCEPTIONS.get((arrow.source, _package(arrow.target)))
        if allowed is None or (allowed.lazy and not arrow.lazy):
            wrong.append(_shown(arrow))
    assert wrong == []


def test_verdicts_imports_only_jobspec() -> None:
    imported = {_package(a.target) for a in KIT if _package(a.source) == "verdicts"}
    assert imported <= {"verdicts", "jobspec"}


def test_the_mocks_domain_knows_no_http_and_its_http_no_interface() -> None:
    """mockserver's rooms: the domain (what the mock holds and decides) imports neither its HTTP pipeline nor aiohttp;
    the HTTP pipeline imports none of the interfaces (CLI, options, testing, reload) built on it."""
    interfaces = {"mockserver.cli", "mockserver.options", "mockserver.testing", "mockserver.reload"}
    wrong = [
        _shown(a)
        for a in KIT
        if (a.source.startswith("mockserver.domain.") and a.target.startswith("mockserver.http"))
        or (a.source.startswith("mockserver.http.") and a.target in interfaces)
    ]
    assert wrong == []
    domain = [path for name, path in modules(ROOT, ["mockserver"]).items() if name.startswith("mockserver.domain.")]
    assert domain and not [p.name for p in domain if "aiohttp" in {_root(n) for n in _imported_names(p)}]


def _imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def _root(name: str) -> str:
    return name.split(".")[0]


def test_the_exceptions_are_still_needed() -> None:
    """An exception no import uses any more goes from the list."""
    used = {(a.source, _package(a.target)) for a in KIT}
    assert set(EXCEPTIONS) <= used


def test_installed_packages_need_no_benchmarks() -> None:
    wrong = [_shown(a) for a in KIT if _package(a.source) in INSTALLED and _package(a.target) == "benchmarks"]
    assert wrong == []


# A package small enough to see every import at once: an import inside a function closes a circle.
SYNTHETIC = {
    "pkg/__init__.py": "",
    "pkg/a.py": "from pkg import b\n",
    "pkg/b.py": "import os\n\n\ndef later() -> None:\n    from .sub.c import thing\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/c.py": "from ..a import name\n",
    "pkg/d.py": "import pkg.sub\n",
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_the_reader_resolves_every_form_of_import(tmp_path: Path) -> None:
    _write(tmp_path, SYNTHETIC)
    found = {(a.source, a.target, a.lazy) for a in arrows(tmp_path, ["pkg"])}
    assert found == {
        ("pkg.a", "pkg.b", False),  # from pkg import module: the module
        ("pkg.b", "pkg.sub.c", True),  # relative, inside a function
        ("pkg.sub.c", "pkg.a", False),  # two dots: from the parent package
        ("pkg.d", "pkg.sub", False),  # import a.b: the package a.b
    }


def test_the_detector_finds_a_circle_closed_inside_a_function(tmp_path: Path) -> None:
    _write(tmp_path, SYNTHETIC)
    assert cycles(arrows(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]


def test_the_detector_finds_no_circle_once_it_is_broken(tmp_path: Path) -> None:
    _write(tmp_path, {**SYNTHETIC, "pkg/sub/c.py": "thing = 1\n"})
    assert cycles(arrows(tmp_path, ["pkg"])) == []


def test_type_checking_imports_and_pytest_plugins_count(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.b import B\nelse:\n    B = 1\n",
        "pkg/b.py": 'pytest_plugins = ["pkg.a"]\n',
    }
    _write(tmp_path, files)
    assert {(a.source, a.target, a.lazy) for a in arrows(tmp_path, ["pkg"])} == {
        ("pkg.a", "pkg.b", True),
        ("pkg.b", "pkg.a", False),
    }
    assert cycles(arrows(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b", "pkg.a"]]
