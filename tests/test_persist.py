"""--state-file: jobs, the tokens held and the clock survive restarts; writes are atomic; corrupt files are refused."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from jobspec import load_spec
from mockserver.cli import main
from mockserver.config import MockConfig
from mockserver.domain import persist
from mockserver.domain.clock import Clock
from mockserver.domain.data import DataError
from mockserver.http.app import create_app
from mockserver.http.context import STATE
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID, DOCUMENTED_TOKEN


def _login(url: str) -> dict[str, str]:
    token = requests.post(f"{url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_restart_keeps_jobs_tokens_logouts_clock_and_the_workers_plans(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    config = MockConfig(state_file=state_file, seed=1)
    with LiveMock(config=config) as first:
        headers = _login(first.url)
        requests.delete(f"{first.url}/@jobs/{DOCUMENTED_ID}", headers=headers)
        held = first.control("POST", "jobs", {"status": "running", "params": {"mock": {"duration": 3600}}})
        soon = first.control("POST", "jobs", {"params": {"mock": {"delay": 60, "duration": 60, "outcome": "failed"}}})
        first.control("POST", "clock/advance", {"seconds": 30})
        clock = first.control("GET", "clock")["now"]
        revoked = _login(first.url)
        requests.post(f"{first.url}/@logout", headers=revoked)
        jobs = requests.get(f"{first.url}/@jobs", headers=headers).json()
    assert state_file.exists()
    with LiveMock(config=config) as second:
        assert requests.get(f"{second.url}/@jobs", headers=headers).json() == jobs
        assert requests.get(f"{second.url}/@jobs", headers=revoked).status_code == 401
        assert second.control("GET", "clock")["now"] >= clock
        second.control("POST", "clock/advance", {"seconds": 100})
        after = {job["uuid"]: job for job in requests.get(f"{second.url}/@jobs", headers=headers).json()}
        assert after[held["uuid"]]["status"] == "running"
        assert after[soon["uuid"]]["status"] == "failed"


def test_the_documented_token_logged_out_stays_out_after_a_restart(tmp_path: Path) -> None:
    config = MockConfig(state_file=tmp_path / "state.json")
    documented = {"Authorization": f"Bearer {DOCUMENTED_TOKEN}"}
    with LiveMock(config=config) as first:
        assert requests.get(f"{first.url}/@jobs", headers=documented).status_code == 200
        assert requests.post(f"{first.url}/@logout", headers=documented).status_code == 204
    with LiveMock(config=config) as second:
        assert requests.get(f"{second.url}/@jobs", headers=documented).status_code == 401
        second.reset()  # a reset forgets logouts, this one too
        assert requests.get(f"{second.url}/@jobs", headers=documented).status_code == 200


def test_reset_with_a_state_file_saves_the_starting_data(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with LiveMock(config=MockConfig(state_file=state_file)) as mock:
        requests.delete(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers=_login(mock.url))
        mock.control("POST", "reset")
    saved = json.loads(state_file.read_text())
    assert DOCUMENTED_ID in {job["uuid"] for job in saved["jobs"]}


def test_state_file_keeps_no_token_in_clear(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with LiveMock(config=MockConfig(state_file=state_file)) as mock:
        headers = _login(mock.url)
        requests.post(f"{mock.url}/@logout", headers=headers)
    token = headers["Authorization"].split()[1]
    assert token not in state_file.read_text()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        pytest.param("{", "not valid JSON", id="truncated"),
        pytest.param("[]", "not a jobs-mock-state file", id="wrong-shape"),
        pytest.param('{"format": "jobs-mock-state", "version": 9}', "of version 1", id="future-version"),
        pytest.param('{"format": "jobs-mock-state", "version": 1, "clock": 1, "pending": {}, "revoked": [], "jobs": [{"uuid": 1}]}',
                     "job 0 (1, 'untitled') is not a valid Job", id="bad-job"),
        pytest.param('{"format": "jobs-mock-state", "version": 1, "clock": "x", "pending": {}, "revoked": [], "jobs": []}',
                     'clock: "x" is not of type "integer"', id="bad-clock"),
    ],
)  # fmt: skip
def test_corrupt_state_file_is_refused_and_left_alone(tmp_path: Path, content: str, needle: str) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(content)
    with pytest.raises(DataError, match="cannot be used") as caught:
        create_app(config=MockConfig(state_file=state_file))
    assert needle in str(caught.value)
    assert state_file.read_text() == content


def test_cli_refuses_a_corrupt_state_file_with_exit_2(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text("garbage")
    run = subprocess.run(
        [sys.executable, "-m", "mockserver", "--port", "0", "--state-file", str(state_file)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert run.returncode == 2 and "cannot be used" in run.stderr
    assert state_file.read_text() == "garbage"


def test_kill_9_during_a_write_loop_never_leaves_a_broken_file(tmp_path: Path) -> None:
    """A mock saving constantly (a new job every 10 ms of mock time) is killed at random moments."""
    state_file = tmp_path / "state.json"
    spec = load_spec()
    checker = create_app(spec)[STATE]
    rng = random.Random(4)
    versions = set()
    for _ in range(6):
        process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "--port", "0", "--state-file", str(state_file),
             "--schedule", "0.5", "--speed", "50", "--log-level", "error"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        deadline = time.monotonic() + rng.uniform(0.4, 1.2)
        while time.monotonic() < deadline:
            requests.get(f"{url}/__mock__/jobs", timeout=5)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process.stdout.close()
        saved = persist.read(state_file, checker)
        assert saved is not None and saved["jobs"]
        versions.add(hashlib.sha256(state_file.read_bytes()).hexdigest())
    assert len(versions) == 6, "every run saved a new state before it was killed"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _jobs_status(url: str, token: str) -> int:
    return requests.get(f"{url}/@jobs", headers={"Authorization": f"Bearer {token}"}).status_code


def test_version_3_keeps_the_tokens_held_as_digests_of_their_text(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with LiveMock(config=MockConfig(state_file=state_file)) as mock:
        kept, out = _token(_login(mock.url)), _token(_login(mock.url))
        editor = requests.post(f"{mock.url}/@login", json={"login": "editor", "password": "editor123"}).json()["token"]
        assert requests.post(f"{mock.url}/@logout", headers={"Authorization": f"Bearer {out}"}).status_code == 204
    saved = json.loads(state_file.read_text())
    assert saved["version"] == 3 and "revoked" not in saved
    expires = {token: float(jwt.decode(token, "secret", algorithms=["HS256"])["exp"]) for token in (kept, editor)}
    assert saved["tokens"] == {
        _digest(kept): ["admin", expires[kept]],
        _digest(editor): ["editor", expires[editor]],
        _digest(DOCUMENTED_TOKEN): ["admin", None],  # never expires
    }, "the logged-out token is not held"
    assert all(token not in state_file.read_text() for token in (kept, out, editor))
    with LiveMock(config=MockConfig(state_file=state_file)) as again:
        assert _jobs_status(again.url, kept) == 200, "a token issued before the restart still works"
        assert _jobs_status(again.url, editor) == 403
        assert _jobs_status(again.url, out) == 401, "a logged-out token stays out"
        assert _jobs_status(again.url, kept + "=") == 401, "another text of a saved token is not the token"
        renewed = requests.post(f"{again.url}/@login-renew", headers={"Authorization": f"Bearer {kept}"})
        assert renewed.status_code == 200
        again.control("POST", "reset")  # a reset forgets logouts, but the token logged out before the restart
        assert _jobs_status(again.url, out) == 401  # was never held by this process
    with LiveMock(config=MockConfig(state_file=state_file)) as third:
        assert _jobs_status(third.url, renewed.json()["token"]) == 200, "issued after one restart, kept by the next"


def test_a_saved_token_past_its_expiry_is_refused_and_dropped(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with LiveMock(config=MockConfig(state_file=state_file)) as mock:
        expired, valid = _token(_login(mock.url)), _token(_login(mock.url))
    saved = json.loads(state_file.read_text())
    saved["tokens"][_digest(expired)] = ["admin", time.time() - 1]
    state_file.write_text(json.dumps(saved))
    with LiveMock(config=MockConfig(state_file=state_file)) as again:
        assert _jobs_status(again.url, expired) == 401
        assert _jobs_status(again.url, valid) == 200
    assert set(json.loads(state_file.read_text())["tokens"]) == {_digest(valid), _digest(DOCUMENTED_TOKEN)}


@pytest.mark.parametrize(
    ("version", "revoked"),
    [
        pytest.param(1, lambda token: [_digest(token)], id="version-1"),
        pytest.param(2, lambda token: {f"jti:{jwt.decode(token, 'secret', ['HS256'])['jti']}": None}, id="version-2"),
    ],
)
def test_versions_1_and_2_are_still_read_their_jobs_and_clock_but_no_tokens(
    tmp_path: Path, version: int, revoked: Any
) -> None:
    """Those versions kept revocations, not tokens: a token issued before the upgrade is not held after it."""
    state_file = tmp_path / "state.json"
    with LiveMock(config=MockConfig(state_file=state_file), clock=Clock(manual=True)) as mock:
        created = mock.control("POST", "jobs", {"title": f"Kept from version {version}"})
        mock.control("POST", "clock/advance", {"seconds": 86400})
        clock = mock.control("GET", "clock")["now"]
        token = _token(_login(mock.url))
    saved = json.loads(state_file.read_text())
    del saved["tokens"]
    saved.update(version=version, revoked=revoked(token))
    state_file.write_text(json.dumps(saved))
    with LiveMock(config=MockConfig(state_file=state_file), clock=Clock(manual=True)) as mock:
        assert created["uuid"] in {job["uuid"] for job in mock.control("GET", "jobs")}
        assert mock.control("GET", "clock")["now"] >= clock
        assert _jobs_status(mock.url, token) == 401, "no token restored from an old state file"
        assert _jobs_status(mock.url, DOCUMENTED_TOKEN) == 200
        fresh = _token(_login(mock.url))
    again = json.loads(state_file.read_text())
    assert again["version"] == 3 and "revoked" not in again, "saved again in the new form"
    assert set(again["tokens"]) == {_digest(fresh), _digest(DOCUMENTED_TOKEN)}


def _saved_state(tmp_path: Path) -> dict[str, Any]:
    """A real state file's content: two jobs (one the worker has plans for), the tokens held, the clock."""
    state_file = tmp_path / "seed.json"
    with LiveMock(config=MockConfig(state_file=state_file, seed=3), clock=Clock(manual=True)) as mock:
        mock.control("POST", "reset")
        requests.post(f"{mock.url}/@logout", headers=_login(mock.url))
    saved: dict[str, Any] = json.loads(state_file.read_text())
    saved["jobs"] = saved["jobs"][:2]
    saved["pending"] = {job["uuid"]: due for job, due in zip(saved["jobs"], [1, 2], strict=True)}
    return saved


BAD_VALUES = [None, [], {}, "x", "1e400", -1, 10**30, True, 1.5, "deep"]


def _places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _places(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _places(child, (*path, index))


def _replaced(document: Any, path: tuple[Any, ...], bad: Any) -> str:
    """`document` as JSON text with the value at `path` replaced by `bad` ("1e400" and "deep" written raw)."""
    copy = json.loads(json.dumps(document))
    marker = "\u0000MARK\u0000"
    if path:
        parent = copy
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = marker if bad in ("1e400", "deep") else bad
    else:
        copy = marker if bad in ("1e400", "deep") else bad
    raw = {"1e400": "1e400", "deep": "[" * 3000 + "]" * 3000}.get(bad) if isinstance(bad, str) else None
    text = json.dumps(copy)
    return text.replace(json.dumps(marker), raw) if raw else text


def test_every_corruption_of_a_state_file_is_refused_naming_the_file_or_restores_a_saveable_state(
    tmp_path: Path,
) -> None:
    """Each value of a real state file replaced by each of null, a list, an object, a string, 1e400, -1, 10**30,
    true, 1.5 and nesting 3,000 deep, and each member removed: a clear refusal, or a state that runs and saves."""
    saved = _saved_state(tmp_path)
    state_file = tmp_path / "state.json"
    state = create_app(config=MockConfig(seed=1), clock=Clock(manual=True))[STATE]
    variants = [_replaced(saved, path, bad) for path in _places(saved) for bad in BAD_VALUES]
    for path in _places(saved):
        if path:
            copy = json.loads(json.dumps(saved))
            parent = copy
            for part in path[:-1]:
                parent = parent[part]
            del parent[path[-1]]
            variants.append(json.dumps(copy))
    refused = 0
    for text in variants:
        state_file.write_text(text)
        try:
            loaded = persist.read(state_file, state)
            assert loaded is not None
            persist.restore(state, loaded, state_file)
        except DataError as exc:
            refused += 1
            assert str(exc).startswith(f"the state file {state_file} cannot be used: "), (text[:300], exc)
            assert state_file.read_text() == text, "the file is left untouched"
            continue
        json.loads(persist.snapshot(state), parse_constant=_no_constant)  # what was restored can be saved again
    assert refused > len(variants) // 2, "most of these corruptions must be refused"


def _no_constant(name: str) -> None:
    raise AssertionError(f"the saved state holds {name}")


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        pytest.param({"pending": None}, 'pending: null is not of type "object"', id="pending-null"),
        pytest.param({"pending": []}, 'pending: [] is not of type "object"', id="pending-list"),
        pytest.param({"clock": "1700000000000"}, 'clock: "1700000000000" is not of type "integer"', id="clock-text"),
        pytest.param({"clock": 10**20}, "clock: 100000000000000000000 is greater than the maximum", id="clock-huge"),
        pytest.param({"tokens": []}, 'tokens: [] is not of type "object"', id="tokens-list"),
        pytest.param(
            {"tokens": {"abc": ["admin", 1]}}, 'tokens: "abc" does not match "^[0-9a-f]{64}$"', id="not-a-digest"
        ),
        pytest.param(
            {"tokens": {"a" * 64: ["admin", "soon"]}}, f'tokens.{"a" * 64}[1]: "soon" is not of types', id="expiry-text"
        ),
        pytest.param(
            {"tokens": {"a" * 64: ["admin"]}}, f'tokens.{"a" * 64}: ["admin"] has less than 2 items', id="no-expiry"
        ),
        pytest.param(
            {"tokens": {"a" * 64: [5, None]}}, f'tokens.{"a" * 64}[0]: 5 is not of type "string"', id="login-number"
        ),
        pytest.param(
            {"version": 2, "revoked": ["abc"]}, 'revoked: ["abc"] is not of type "object"', id="v2-revoked-list"
        ),
        pytest.param(
            {"version": 2, "revoked": {"jti:x": "soon"}}, 'revoked.jti:x: "soon" is not of types', id="v2-revoked-text"
        ),
        pytest.param(
            {"version": 1, "revoked": {"a": 1}}, 'revoked: {"a":1} is not of type "array"', id="v1-revoked-object"
        ),
        pytest.param({"jobs": {}}, 'jobs: {} is not of type "array"', id="jobs-object"),
    ],
)
def test_the_corruptions_the_issue_names_are_refused_with_their_place(
    tmp_path: Path, edit: dict[str, Any], needle: str
) -> None:
    state_file = tmp_path / "state.json"
    saved = _saved_state(tmp_path)
    if edit.get("version", 3) != 3:
        del saved["tokens"]
    text = json.dumps({**saved, **edit})
    state_file.write_text(text)
    with pytest.raises(DataError) as caught:
        create_app(config=MockConfig(state_file=state_file))
    assert needle in str(caught.value) and str(state_file) in str(caught.value)
    assert state_file.read_text() == text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        pytest.param('{"format": "jobs-mock-state", "version": 2, "clock": 1e400}', "clock: not a finite number", id="1e400"),
        pytest.param('{"format": "jobs-mock-state", "pending": ' + "[" * 100000 + "]" * 100000 + "}", "nested deeper", id="deep"),
        pytest.param('{"format": "jobs-mock-state", "version": 2, "clock": NaN}', "clock: not a finite number", id="nan"),
        pytest.param("\ufeff{}", "not a jobs-mock-state file", id="byte-order-mark"),
        pytest.param("", "not valid JSON", id="empty"),
    ],
)  # fmt: skip
def test_json_no_state_can_hold_is_refused_naming_the_place(tmp_path: Path, text: str, needle: str) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(text)
    with pytest.raises(DataError) as caught:
        create_app(config=MockConfig(state_file=state_file))
    assert needle in str(caught.value) and str(state_file) in str(caught.value)
    assert state_file.read_text() == text


class WriteLoop(threading.Thread):
    """A client changing the mock as fast as it answers: creates, deletes and logouts, each noted once acknowledged."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.logged_out: list[str] = []
        self.in_flight: str | None = None  # a deletion sent and not answered: the kill may have come either side of it
        self.token = _login(url)["Authorization"]

    def run(self) -> None:
        with requests.Session() as session:
            try:
                while True:
                    self._round(session)
            except requests.RequestException:
                return  # the mock is gone

    def _round(self, session: requests.Session) -> None:
        made = session.post(f"{self.url}/__mock__/jobs", json={"title": "Acknowledged"}, timeout=5)
        if made.status_code == 201:
            self.created.append(made.json()["uuid"])
        if len(self.created) % 3 == 0:
            victim = self.in_flight = self.created[-1]
            if session.delete(f"{self.url}/@jobs/{victim}", headers={"Authorization": self.token}).status_code == 204:
                self.deleted.append(victim)
            self.in_flight = None
        if len(self.created) % 5 == 0:
            token = session.post(f"{self.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
            if session.post(f"{self.url}/@logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204:
                self.logged_out.append(token)


def _start(state_file: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "--port", "0", "--state-file", str(state_file), "--log-level", "error",
         *options],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    return process, process.stdout.readline().split()[-1]


def _assert_nothing_acknowledged_was_lost(state_file: Path, loop: WriteLoop) -> None:
    assert loop.created, "the loop made jobs before the end"
    with LiveMock(config=MockConfig(state_file=state_file), clock=Clock(manual=True)) as mock:
        kept = {job["uuid"] for job in mock.control("GET", "jobs")}
        assert set(loop.created) - set(loop.deleted) - {loop.in_flight} <= kept, "every acknowledged job is there"
        assert not set(loop.deleted) & kept, "no acknowledged deletion is undone"
        for token in loop.logged_out:
            answer = requests.get(f"{mock.url}/@jobs", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401, "no acknowledged logout is undone"


@pytest.mark.parametrize("run", range(2))
def test_with_state_sync_always_kill_9_under_a_write_loop_loses_nothing_acknowledged(tmp_path: Path, run: int) -> None:
    state_file = tmp_path / "state.json"
    process, url = _start(state_file, "--state-sync", "always")
    loop = WriteLoop(url)
    loop.start()
    time.sleep(random.Random(run).uniform(0.5, 1.5))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    loop.join(timeout=10)
    assert process.stdout is not None
    process.stdout.close()
    _assert_nothing_acknowledged_was_lost(state_file, loop)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_save_every_change_before_the_mock_exits(tmp_path: Path, signum: int) -> None:
    state_file = tmp_path / "state.json"
    process, url = _start(state_file)  # the default: saved four times a second, and at the end
    loop = WriteLoop(url)
    loop.start()
    time.sleep(0.8)
    process.send_signal(signum)
    assert process.wait(timeout=20) == 0
    loop.join(timeout=10)
    assert process.stdout is not None
    process.stdout.close()
    _assert_nothing_acknowledged_was_lost(state_file, loop)


def test_state_sync_always_needs_a_state_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-sync", "always", "--port", "0"]) == 2
    assert "--state-sync always needs --state-file" in capsys.readouterr().err


def test_sessions_survive_a_restart_with_their_jobs_clocks_and_logouts(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with LiveMock(config=MockConfig(state_file=state_file, seed=1)) as first:
        s1 = f"{first.url}/__session/s1"
        made = requests.post(f"{s1}/__mock__/jobs", json={"title": "In s1", "status": "created"}).json()["uuid"]
        requests.delete(f"{s1}/@jobs/{DOCUMENTED_ID}", headers=_login(s1))
        ahead = requests.post(f"{s1}/__mock__/clock/advance", json={"seconds": 86400}).json()["now"]
        out = _login(s1)
        assert requests.post(f"{s1}/@logout", headers=out).status_code == 204
        kept = _login(first.url)
        jobs = requests.get(f"{s1}/@jobs", headers=kept).json()
    saved = json.loads(state_file.read_text())
    assert saved["version"] == 4 and list(saved["sessions"]) == ["s1"]
    with LiveMock(config=MockConfig(state_file=state_file, seed=1)) as second:
        s1 = f"{second.url}/__session/s1"
        assert requests.get(f"{s1}/@jobs", headers=kept).json() == jobs
        assert made in {job["uuid"] for job in jobs} and DOCUMENTED_ID not in {job["uuid"] for job in jobs}
        assert requests.get(f"{s1}/__mock__/clock").json()["now"] >= ahead
        assert requests.get(f"{s1}/@jobs", headers=out).status_code == 401, "logged out in the session, it stays out"
        assert requests.get(f"{second.url}/@jobs", headers=out).status_code == 200, "but only there"
        assert DOCUMENTED_ID in {job["uuid"] for job in requests.get(f"{second.url}/@jobs", headers=kept).json()}
        assert requests.delete(f"{second.url}/__mock__/sessions/s1").status_code == 204
    assert "sessions" not in json.loads(state_file.read_text()), "a deleted session is gone from the file"


@pytest.mark.parametrize(
    ("sessions", "needle"),
    [
        pytest.param({"bad name!": {}}, "sessions", id="name"),
        pytest.param({"s1": {"clock": 0, "logouts": [], "pending": {}}}, "jobs", id="no-jobs"),
        pytest.param({"s1": {"clock": 0, "logouts": [], "pending": {}, "jobs": [{"status": "nope"}]}}, "sessions.s1.jobs", id="bad-job"),
        pytest.param({"s1": {"clock": 0, "logouts": ["x"], "pending": {}, "jobs": []}}, "logouts", id="logout"),
    ],
)  # fmt: skip
def test_a_corrupt_session_in_a_state_file_is_refused_naming_it(tmp_path: Path, sessions: Any, needle: str) -> None:
    state_file = tmp_path / "state.json"
    text = json.dumps({**_saved_state(tmp_path), "version": 4, "sessions": sessions})
    state_file.write_text(text)
    with pytest.raises(DataError) as caught:
        create_app(config=MockConfig(state_file=state_file))
    assert needle in str(caught.value) and str(state_file) in str(caught.value)
    assert state_file.read_text() == text
