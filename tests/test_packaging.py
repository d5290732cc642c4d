"""The spec travels inside the wheel: an installed copy loads it from outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_installed_package_loads_its_spec_outside_the_repository(tmp_path: Path) -> None:
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
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
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
