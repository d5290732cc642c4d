"""The test tiers (tests/conftest.py's TIERS): every name there is a test that exists, every tier a registered marker."""

from __future__ import annotations

import ast
import tomllib
from typing import Any

import pytest

from tests.conftest import EXTENDED, ONE_WORKER, TIERS, group_of
from tests.helpers import ROOT


def _pytest_settings() -> dict[str, Any]:
    settings: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    return settings


def _tests_in(module: str) -> set[str]:
    """The names of the test functions a module of tests/ defines (at its top level or in a class)."""
    tree = ast.parse((ROOT / "tests" / module).read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_every_name_in_the_tiers_is_a_module_or_a_test_that_exists() -> None:
    """A test renamed or moved would otherwise fall silently back into the default tier."""
    modules = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    missing = [name for name in TIERS if name.partition("::")[0] not in modules]
    assert missing == [], "no such module in tests/"
    missing = [name for name in TIERS if "::" in name and name.partition("::")[2] not in _tests_in(name.split("::")[0])]
    assert missing == [], "no such test in its module"


def test_every_tier_is_a_registered_marker_and_plain_pytest_leaves_the_extended_ones_out() -> None:
    settings = _pytest_settings()
    registered = {line.partition(":")[0] for line in settings["markers"]}
    used = {marker for markers in TIERS.values() for marker in markers}
    assert used | set(EXTENDED) | {"extended"} <= registered
    assert set(ONE_WORKER) <= set(EXTENDED) and {"serial", "sigint"}.isdisjoint(EXTENDED)
    addopts = settings["addopts"]
    assert addopts[addopts.index("-m") + 1] == "not extended"
    assert addopts[addopts.index("--dist") + 1] == "loadgroup"  # the xdist group "serial" is kept together


@pytest.mark.parametrize(
    ("nodeid", "group"),
    [
        pytest.param("tests/test_connections.py::test_x[a::b]", "serial", id="serial-module"),
        pytest.param("tests/test_faults.py::test_x@serial", "serial", id="xdist-suffix"),
        pytest.param("tests/test_docker.py::test_x", "tests/test_docker.py", id="one-worker-module"),
        pytest.param(
            "tests/test_report.py::test_results__a_check_is_charged_the_time_since_the_record_before_and_absorbs_a_helpers_time",
            "serial",
            id="serial-test",
        ),
        pytest.param("tests/test_report.py::test_x", None, id="any-worker"),
        pytest.param("tests/test_runner.py::test_accept_language__every_request_asks_for_english", None, id="slow"),
    ],
)
def test_the_worker_group_of_a_test_comes_from_its_id(nodeid: str, group: str | None) -> None:
    """Under -n the timing-sensitive tests share one worker, and an outside tool's module keeps to one."""
    assert group_of(nodeid) == group
