"""A deployment with its own JWT signing secret (every production Nick has one): issue 27, item 18.

Without its secret the suite cannot sign a token the deployment would otherwise accept, so the
checks of expired, unknown-user and never-issued tokens are not exercised, and say which option
would let them run; given the secret (`--jwt-secret`, or `$JOBS_JWT_SECRET`) they run, and a
deployment that accepts an expired token fails. The secret is printed nowhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli import main
from tests import brokenjobs
from tests.brokenjobs import Breakage as B

THEIR_SECRET = "a-production-deployments-own-secret-4f1c9a"  # noqa: S105 (a test deployment's)
SIGNED = ("auth_expired_token", "auth_unknown_user_token", "auth_never_issued_token")


class TheirOwnSecret(brokenjobs.BrokenJobsServer):
    """A deployment signing with a secret of its own that takes expired tokens (expiry unchecked)."""

    secret = THEIR_SECRET


def _run(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str], str]:
    out = tmp_path / "report.json"
    with TheirOwnSecret(frozenset({B.EXPIRED_ACCEPTED})) as server:
        code = main(["--base-url", server.url, "--phases", "auth", "--report", str(out), *argv])
    captured = capsys.readouterr()
    report = json.loads(out.read_text())
    outcomes = {c["name"]: c["outcome"] for c in report["checks"] if c["name"] in SIGNED}
    written = captured.out + captured.err + out.read_text()
    assert THEIR_SECRET not in written, "the secret was printed"
    return code, outcomes, written


def test_without_the_secret_the_signed_token_checks_are_not_exercised_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOBS_JWT_SECRET", raising=False)
    code, outcomes, written = _run([], tmp_path, capsys)
    assert outcomes == dict.fromkeys(SIGNED, "not exercised"), outcomes
    assert "--jwt-secret" in written and "$JOBS_JWT_SECRET" in written
    assert code == 0  # nothing failed; `--require all` would make this run fail


def test_with_the_secret_an_expired_token_accepted_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOBS_JWT_SECRET", raising=False)
    code, outcomes, _ = _run(["--jwt-secret", THEIR_SECRET], tmp_path, capsys)
    assert code == 1
    # Judged by their signature alone, a token it never issued passes too; one of a user it does not know does not.
    expected = {
        "auth_expired_token": "failed",
        "auth_unknown_user_token": "passed",
        "auth_never_issued_token": "failed",
    }
    assert outcomes == expected, outcomes


def test_the_secret_from_the_environment_does_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBS_JWT_SECRET", THEIR_SECRET)
    code, outcomes, _ = _run([], tmp_path, capsys)
    assert code == 1 and outcomes["auth_expired_token"] == "failed", outcomes


def test_a_wrong_secret_is_said_to_be_wrong_and_runs_nothing_it_cannot_sign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOBS_JWT_SECRET", raising=False)
    code, outcomes, written = _run(["--jwt-secret", "not-their-secret-at-all-0000"], tmp_path, capsys)
    assert outcomes == dict.fromkeys(SIGNED, "not exercised"), outcomes
    assert "the secret given" in written and "not-their-secret-at-all-0000" not in written
    assert code == 0
