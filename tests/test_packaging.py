"""The spec travels inside the wheel: an installed copy loads it from outside the repository, and has every file."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import import_module, metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import ROOT, packages, source_copy


def install(tmp_path: Path) -> Path:
    """The kit installed as a wheel would be (not editable), without its dependencies, into a folder of its own."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(source_copy(tmp_path)),  # an in-tree build could pick up stale files from build/
        ],
        check=True,
        capture_output=True,
    )
    return target


def test_installed_package_loads_its_spec_outside_the_repository(tmp_path: Path) -> None:
    target = install(tmp_path)
    assert (target / "jobspec" / "jobs.yaml").is_file()
    assert not (target / "jobspec" / "jobs.yaml").is_symlink()
    probe = "import jobspec; s = jobspec.load_spec(); print(s.path); print(s.lifecycle.initial, len(s.operations))"
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        check=True,
        capture_output=True,
        text=True,
    )
    path, summary = run.stdout.splitlines()
    assert Path(path).is_relative_to(target)
    assert summary.split() == ["created", "8"]


def test_installed_package_has_every_module_and_data_file(tmp_path: Path) -> None:
    # Files, not imports: the editable install of the test environment would answer any import from the repository.
    target = install(tmp_path)
    wanted = {
        path.relative_to(ROOT)
        for package in packages()
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert Path("conformance/phases/lifecycle.py") in wanted and Path("jobsproxy/static/proxy.html") in wanted
    assert sorted(str(path) for path in wanted if not (target / path).is_file()) == []


def test_installed_package_serves_swagger_ui_from_its_dependency(tmp_path: Path) -> None:
    target = install(tmp_path)
    probe = "from mockserver.http import docs; print(docs.__file__); print(docs.swagger_ui_dir())"
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        check=True,
        capture_output=True,
        text=True,
    )
    module, assets = run.stdout.splitlines()
    assert Path(module).is_relative_to(target)
    assert (Path(assets) / "swagger-ui-bundle.js").is_file() and (Path(assets) / "swagger-ui.css").is_file()


def test_the_dependencies_bring_no_web_framework_but_aiohttp() -> None:
    # /docs needs Swagger UI's files only: the package that carries them must not install Django (or another).
    seen: set[str] = set()
    todo = ["nick-jobs-kit"]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    assert "swagger-ui-bundle-v2" in seen
    assert seen.isdisjoint({"django", "flask", "fastapi", "starlette", "tornado"}), sorted(seen)


# Each installed command: a flag it takes, spelled in full and cut short (with what else it needs to parse).
ABBREVIATED = {
    "jobs-mock": (["--frozen"], ["--froz"]),
    "jobs-conformance": (
        ["--base-url", "http://x", "--fixtures", "mock"],
        ["--base-url", "http://x", "--fixture", "mock"],
    ),
    "jobs-lifecycle": (["--format", "dot"], ["--form", "dot"]),
    "jobs-proxy": (["--upstream", "http://x", "--fail-on-violation"], ["--upstream", "http://x", "--fail-on"]),
    "jobs-drift": (
        ["--base-url", "http://x", "--mock-url", "http://y"],
        ["--base-url", "http://x", "--mock", "http://y"],
    ),
}


@pytest.mark.parametrize("script", sorted(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]))
def test_no_command_takes_an_abbreviated_flag(script: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 28, item 4: `--fixture` was taken for `--fixtures`; an abbreviation is a typo, not a flag."""
    assert script in ABBREVIATED, f"add {script}'s flag, in full and cut short, to ABBREVIATED"
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"][script]
    parser = import_module(entry.partition(":")[0]).parser()
    full, short = ABBREVIATED[script]
    parser.parse_args(full)
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(short)
    assert refused.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
