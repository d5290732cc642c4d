"""`jobs-mock --reload`: real edits of the spec, data and users files, served without a restart."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from jobspec.loader import packaged_spec_path
from tests.conftest import DOCUMENTED_ID

HEADERS = {"Connection": "close"}  # see the hammer below
HOLD = {"mock": {"delay": 86400, "duration": 86400}}


class Running:
    """A `jobs-mock --reload` process over files in a folder, its log in a file."""

    def __init__(self, folder: Path) -> None:
        self.spec, self.data, self.users, self.log = (
            folder / n for n in ("spec.yaml", "data.yaml", "users.yaml", "log")
        )
        self.url = ""

    def edit(self, path: Path, change: Callable[[Any], object]) -> None:
        """Change the YAML document at `path` in place, as an editor would save it."""
        document = yaml.safe_load(path.read_text())
        change(document)
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def logged(self, needle: str, times: int = 1, timeout: float = 15) -> str:
        """Wait for `needle` `times` times in the log; the log so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text()
            if text.count(needle) >= times:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} never logged:\n{self.log.read_text()}")

    def admin(self, login: str = "admin", password: str = "admin") -> requests.Session:
        session = requests.Session()
        answer = session.post(f"{self.url}/@login", json={"login": login, "password": password}, timeout=5)
        assert answer.status_code == 200, answer.text
        session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return session

    def jobs(self) -> dict[str, str]:
        return {job["uuid"]: job["title"] for job in requests.get(f"{self.url}/__mock__/jobs", timeout=5).json()}

    def create(self, title: str) -> str:
        body = {"title": title, "status": "running", "params": HOLD}
        return str(requests.post(f"{self.url}/__mock__/jobs", json=body, timeout=5).json()["uuid"])


class Mock(Running):
    """A `Running` over the packaged spec, one job and one admin, started with the flags a test gives."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        shutil.copy(packaged_spec_path(), self.spec)
        data = yaml.safe_load((Path(__file__).parent.parent / "mockserver" / "domain" / "data.yaml").read_text())
        self.data.write_text(yaml.safe_dump({"jobs": [data["jobs"][0]]}))
        admin = {"login": "admin", "password": "admin", "fullname": "A", "manageJobs": True}
        self.users.write_text(yaml.safe_dump({"users": [admin]}))
        self.process: subprocess.Popen[str] | None = None

    def start(self, *flags: str) -> None:
        script = shutil.which("jobs-mock", path=str(Path(sys.executable).parent))
        assert script
        command = [script, "--port", "0", "--reload", "--seed", "1", *flags]
        command += ["--spec", str(self.spec), "--data", str(self.data), "--users", str(self.users)]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        assert first.startswith("Listening on http://127.0.0.1:"), self.log.read_text()
        self.url = first.split()[-1]

    def stop(self) -> str:
        """SIGTERM, and what it printed meanwhile."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=15)
        assert self.process.returncode == 0, self.log.read_text()
        return out


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[Mock]:
    started = Mock(tmp_path)
    try:
        yield started
    finally:
        if started.process is not None and started.process.poll() is None:
            started.process.kill()
            started.process.communicate(timeout=15)


@pytest.fixture
def running(mock: Mock) -> Iterator[Running]:
    mock.start("--frozen")
    yield mock
    assert "shutting down" in mock.stop()


def _short_titles(document: dict[str, Any]) -> None:
    document["components"]["schemas"]["Job"]["properties"]["title"]["maxLength"] = 16
    document["info"]["title"] = "Edited"


def test_a_spec_edit_is_served_and_keeps_the_jobs_it_allows(running: Running) -> None:
    admin = running.admin()
    short, long = running.create("Short"), running.create("A title far too long for it")
    assert admin.get(f"{running.url}/@jobs/{DOCUMENTED_ID}").status_code == 200
    before = requests.get(f"{running.url}/__mock__/journal/count", timeout=5).json()["count"]
    running.edit(running.spec, _short_titles)
    log = running.logged("reloaded:")
    assert f"dropped job 2 ({long}, 'A title far too long for it'): the new spec does not allow it" in log
    assert requests.get(f"{running.url}/openapi.json", timeout=5).json()["info"]["title"] == "Edited"
    assert running.jobs() == {DOCUMENTED_ID: "Reindex Events", short: "Short"}
    # Same clock, journal and tokens: the admin's token still works, and the journal goes on counting.
    assert admin.get(f"{running.url}/@jobs/{short}").json()["title"] == "Short"
    assert requests.get(f"{running.url}/__mock__/journal/count", timeout=5).json()["count"] > before
    too_long = requests.post(f"{running.url}/__mock__/jobs", json={"title": "x" * 17}, timeout=5)
    assert too_long.status_code == 400 and "title" in too_long.json()["error"]["message"]


def test_an_invalid_edit_is_refused_and_the_last_good_version_served(running: Running) -> None:
    kept = running.create("Kept")
    running.spec.write_text(running.spec.read_text() + "\nbroken: [\n")
    log = running.logged("reload refused")
    assert f"reload refused ({running.spec} changed): {running.spec} is not a valid OpenAPI 3.1 document" in log
    assert "still serving the last good version" in log
    assert running.jobs()[kept] == "Kept" and running.admin().get(f"{running.url}/@jobs").status_code == 200
    running.spec.write_text(packaged_spec_path().read_text())  # fixed: served again, the jobs kept
    assert "reloaded:" in running.logged("reloaded:") and running.jobs()[kept] == "Kept"
    running.edit(running.data, lambda document: document["jobs"][0].update(status="paused"))
    assert "is not a valid Job" in running.logged(f"reload refused ({running.data} changed)")
    assert running.jobs()[kept] == "Kept"
    running.edit(running.data, lambda document: document["jobs"][0].update(status="created", title="Fixed"))
    running.logged("reloaded:", times=2)
    assert running.jobs() == {DOCUMENTED_ID: "Fixed"}  # a data edit starts the jobs again from the file


class Hammers:
    """Clients asking without a pause while files are edited, each in a thread: "new" asks for the spec on a new
    connection each time, "kept" on one connection kept alive throughout, "tight" for the clock on one connection
    with no more than http.client between an answer and the next request. Each answer's status, or the name of the
    exception it ended in."""

    def __init__(self, url: str, kinds: tuple[str, ...] = ("new", "kept")) -> None:
        self.url = url
        self.answers: dict[str, list[int | str]] = {kind: [] for kind in kinds}
        self.done = threading.Event()
        self.threads = [
            threading.Thread(target=self.tight if kind == "tight" else self.hammer, args=(kind,)) for kind in kinds
        ]

    def tight(self, kind: str) -> None:
        host, port = self.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            while not self.done.is_set():
                try:
                    connection.request("GET", "/__mock__/clock")
                    answer = connection.getresponse()
                    answer.read()
                    self.answers[kind].append(answer.status)
                except (OSError, http.client.HTTPException) as exc:  # recorded; the next request connects anew
                    self.answers[kind].append(type(exc).__name__)
                    connection.close()
        finally:
            connection.close()

    def hammer(self, kind: str) -> None:
        headers = HEADERS if kind == "new" else {}
        with requests.Session() as session:
            while not self.done.is_set():
                try:
                    answer = session.get(f"{self.url}/openapi.json", timeout=15, headers=headers)
                    self.answers[kind].append(answer.status_code)
                except requests.RequestException as exc:  # recorded, so the assertion names it
                    self.answers[kind].append(type(exc).__name__)

    def __enter__(self) -> Hammers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def go_on(self, answers: int = 3) -> None:
        """Wait until each client, which has had an answer already, has had `answers` more (or 30 s), so that each
        went on past a reload."""
        now = self.counts()
        assert all(now.values()), now
        deadline = time.monotonic() + 30
        while any(len(self.answers[k]) < now[k] + answers for k in now) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(len(self.answers[k]) >= now[k] + answers for k in now), (now, self.counts())

    def counts(self) -> dict[str, int]:
        return {kind: len(got) for kind, got in self.answers.items()}

    def assert_all_answered(self) -> None:
        for kind, got in self.answers.items():
            assert set(got) == {200}, (kind, [answer for answer in got if answer != 200][:5])


def test_a_users_edit_is_served_with_no_request_refused_meanwhile(running: Running) -> None:
    kept = running.create("Kept")
    with Hammers(running.url) as hammers:
        ops = {"login": "ops", "password": "pw", "fullname": "O", "manageJobs": True}
        running.edit(running.users, lambda document: document["users"].append(ops))
        running.logged("reloaded:")
        hammers.go_on()
    assert running.admin("ops", "pw").get(f"{running.url}/@jobs/{kept}").status_code == 200
    assert running.jobs()[kept] == "Kept"
    hammers.assert_all_answered()


def test_many_reloads_under_clients_that_never_pause_refuse_and_drop_nothing(running: Running) -> None:
    """A connection the kernel accepted just as a hand-over began was dropped (the old listening socket closed under
    it: asyncio makes no transport for it then): four reloads in eighty under load, before the fix."""
    with Hammers(running.url) as hammers:
        for n in range(20):
            user = {"login": f"user{n}", "password": "pw", "fullname": "U", "manageJobs": False}
            running.edit(running.users, lambda document, user=user: document["users"].append(user))
            running.logged("reloaded:", times=n + 1, timeout=60)
            hammers.go_on(1)
    hammers.assert_all_answered()


def test_a_client_that_sends_its_next_request_at_once_is_answered_through_the_reload(running: Running) -> None:
    """A client that sends each request the moment the last answer is in leaves its connection between requests for
    no time at all: the old app stops reading it once it is, so the swap neither waits for it (5 s, then closing it
    under the client) nor fails a request."""
    with Hammers(running.url, ("tight",)) as hammers:
        running.edit(running.spec, _short_titles)
        running.logged("reloaded:")
        hammers.go_on()
    hammers.assert_all_answered()
    log = running.log.read_text()
    assert "Edited" in requests.get(f"{running.url}/openapi.json", timeout=5).json()["info"]["title"], log


def test_a_reload_hands_each_connection_between_requests_to_the_new_app(running: Running) -> None:
    """A connection kept alive, and one opened that has sent nothing yet, go on after a reload on the same socket,
    answered by the new app (a reload used to close them: a request sent at that moment failed)."""
    host, port = running.url.removeprefix("http://").split(":")
    kept = http.client.HTTPConnection(host, int(port), timeout=15)
    kept.request("GET", "/openapi.json")
    assert kept.getresponse().read() and kept.sock is not None
    address = kept.sock.getsockname()
    fresh = socket.create_connection((host, int(port)), timeout=15)
    running.edit(running.spec, _short_titles)
    running.logged("reloaded:")
    kept.request("GET", "/openapi.json")  # on a closed connection: RemoteDisconnected, or a new socket
    answer = kept.getresponse()
    assert answer.status == 200 and json.loads(answer.read())["info"]["title"] == "Edited"
    assert kept.sock is not None and kept.sock.getsockname() == address
    fresh.sendall(f"GET /openapi.json HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
    received = b""
    while chunk := fresh.recv(65536):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and json.loads(body)["info"]["title"] == "Edited", head
    kept.close()
    fresh.close()


def test_a_users_edit_keeps_the_tokens_of_the_users_kept_and_ends_those_of_the_users_removed(
    running: Running,
) -> None:
    ops = {"login": "ops", "password": "pw", "fullname": "O", "manageJobs": True}
    running.edit(running.users, lambda document: document["users"].append(ops))
    running.logged("reloaded:")
    admin, ops_session = running.admin(), running.admin("ops", "pw")
    assert ops_session.get(f"{running.url}/@jobs", headers=HEADERS).status_code == 200

    def without_ops_and_admin_demoted(document: dict[str, Any]) -> None:
        document["users"] = [{**user, "manageJobs": False} for user in document["users"] if user["login"] != "ops"]

    running.edit(running.users, without_ops_and_admin_demoted)
    running.logged("reloaded:", times=2)
    gone = ops_session.get(f"{running.url}/@jobs", headers=HEADERS)
    assert (gone.status_code, gone.json()) == (401, {"message": "You are not authorized to access this resource."})
    renew = ops_session.post(f"{running.url}/@login-renew", headers=HEADERS)
    assert (renew.status_code, renew.json()) == (
        401,
        {"error": {"type": "Invalid session", "message": "User is not logged in."}},
    )
    demoted = admin.get(f"{running.url}/@jobs", headers=HEADERS)  # the same token, the user's rights as they are now
    assert (demoted.status_code, demoted.json()) == (
        403,
        {"message": "You are not authorized to access this resource."},
    )
    assert admin.post(f"{running.url}/@login-renew", headers=HEADERS).status_code == 200


def test_a_reload_keeps_every_session_with_its_jobs_clock_and_tokens(mock: Mock) -> None:
    mock.start("--frozen")
    control = f"{mock.url}/__session/s1/__mock__"
    own = {"title": "Own", "status": "running", "params": HOLD}
    assert requests.post(f"{mock.url}/__mock__/sessions", json={"name": "s1"}, timeout=5).status_code == 201
    made = requests.post(f"{control}/jobs", json=own, timeout=5).json()["uuid"]
    clock = requests.post(f"{control}/clock/advance", json={"seconds": 3600}, timeout=5).json()
    started = requests.post(f"{mock.url}/__mock__/sessions", json={"name": "s2", "jobs": [{**own, "title": "S2"}]})
    assert started.status_code == 201
    token = requests.post(f"{mock.url}/__session/s1/@login", json={"login": "admin", "password": "admin"}).json()
    mock.edit(mock.users, lambda document: document["users"][0].update(fullname="Edited"))
    mock.logged("reloaded:")
    sessions = requests.get(f"{mock.url}/__mock__/sessions", timeout=5).json()["sessions"]
    assert sorted(session["name"] for session in sessions) == ["s1", "s2"]
    jobs = {job["uuid"]: job["title"] for job in requests.get(f"{control}/jobs", timeout=5).json()}
    assert jobs[made] == "Own" and DOCUMENTED_ID in jobs
    ahead = _seconds(requests.get(f"{control}/clock", timeout=5).json()["now"])
    ahead -= _seconds(requests.get(f"{mock.url}/__mock__/clock", timeout=5).json()["now"])
    assert 3600 - 60 < ahead < 3600 + 60 and _seconds(clock["now"]) <= ahead + time.time()  # still an hour ahead
    s2 = requests.get(f"{mock.url}/__session/s2/__mock__/jobs", timeout=5).json()
    assert [job["title"] for job in s2] == ["S2"]
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert requests.get(f"{mock.url}/__session/s1/@jobs/{made}", headers=headers, timeout=5).status_code == 200
    mock.stop()


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_data_edit_starts_the_sessions_of_the_starting_data_again_and_keeps_those_of_their_own(mock: Mock) -> None:
    mock.start("--frozen")
    own = {"title": "Own", "status": "running", "params": HOLD}
    for body in ({"name": "plain"}, {"name": "own", "jobs": [own]}):
        assert requests.post(f"{mock.url}/__mock__/sessions", json=body, timeout=5).status_code == 201
    requests.post(f"{mock.url}/__session/plain/__mock__/jobs", json={**own, "title": "Added"}, timeout=5)
    mock.edit(mock.data, lambda document: document["jobs"][0].update(title="Fixed"))
    mock.logged("reloaded:")
    plain = requests.get(f"{mock.url}/__session/plain/__mock__/jobs", timeout=5).json()
    assert [job["title"] for job in plain] == ["Fixed"]
    assert [job["title"] for job in requests.get(f"{mock.url}/__session/own/__mock__/jobs", timeout=5).json()] == [
        "Own"
    ]
    mock.stop()


def test_state_sync_always_stays_durable_across_reloads_in_every_session(mock: Mock, tmp_path: Path) -> None:
    """Every create acknowledged during and after reloads, the mock's and a session's, survives a kill -9 at once (the
    reload used to fall back to saving on a timer, and dropped the sessions)."""
    state = tmp_path / "state.json"
    mock.start("--frozen", "--state-file", str(state), "--state-sync", "always")
    made: list[requests.Response] = []
    with requests.Session() as client:

        def write(count: int) -> None:
            for _ in range(count):
                prefix = "/__session/s1" if len(made) % 2 else ""
                body = {"title": f"J{len(made)}", "status": "created"}
                try:
                    answer = client.post(f"{mock.url}{prefix}/__mock__/jobs", json=body, timeout=30)
                except requests.ConnectionError:  # a kept-alive connection the hand-over closed idle: sent again,
                    answer = client.post(f"{mock.url}{prefix}/__mock__/jobs", json=body, timeout=30)  # as browsers do
                made.append(answer)

        write(10)
        for reloads in (1, 2):  # the loop writes on while each reload reads, hands over and carries
            mock.users.write_text(mock.users.read_text().replace("fullname:", f"fullname: E{reloads}", 1))
            while mock.log.read_text().count("reloaded:") < reloads and len(made) < 2000:
                write(2)
            write(10)
    assert mock.process is not None
    mock.process.kill()  # at once after the last answer: what is acknowledged must be on disk
    mock.process.communicate(timeout=15)
    assert all(answer.status_code == 201 for answer in made)
    acknowledged = [answer.json()["uuid"] for answer in made]
    (tmp_path / "again").mkdir()
    again = Mock(tmp_path / "again")
    again.start("--frozen", "--state-file", str(state))
    try:
        session = {job["uuid"] for job in requests.get(f"{again.url}/__session/s1/__mock__/jobs", timeout=5).json()}
        assert set(acknowledged[0::2]) <= set(again.jobs()) and set(acknowledged[1::2]) <= session
    finally:
        again.stop()


def _circular(text: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    schemas = document["components"]["schemas"]
    schemas["Loop"] = {"$ref": "#/components/schemas/Pool"}
    schemas["Pool"] = {"$ref": "#/components/schemas/Loop"}
    schemas["Job"]["properties"]["params"] = {"$ref": "#/components/schemas/Loop"}
    return dict(document)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prior}'] * 9)}]\n" for prior, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_the_watcher_survives_every_file_it_cannot_use_and_serves_meanwhile(mock: Mock, tmp_path: Path) -> None:
    """A circular $ref, /dev/zero behind a symlink, a FIFO, a billion-laughs document, a recursive alias: each
    refused in one line while the last good version answers; the next valid edit is served."""
    mock.start("--frozen")
    good = {path: path.read_text() for path in (mock.spec, mock.data, mock.users)}
    fifo = mock.data.with_suffix(".fifo")
    os.mkfifo(fifo)
    bad: list[tuple[Path, Callable[[Path], object], str]] = [
        (mock.spec, lambda path: path.write_text(yaml.safe_dump(_circular(good[path]))), "circular reference"),
        (mock.data, lambda path: path.symlink_to("/dev/zero"), "not a regular file (a character device)"),
        (mock.data, lambda path: path.symlink_to(fifo), "not a regular file (a FIFO)"),
        (mock.data, lambda path: path.write_text(BOMB), "billion-laughs"),
        (mock.users, lambda path: path.write_text("&a [*a]\n"), "a YAML alias refers to a node that contains it"),
    ]
    for count, (path, spoil, said) in enumerate(bad, start=1):
        path.unlink()
        spoil(path)
        assert said in mock.logged("reload refused", times=count).splitlines()[-1]
        assert requests.get(f"{mock.url}/__mock__/jobs", timeout=5).status_code == 200  # the last good version
        path.unlink()
        path.write_text(good[path])
        mock.logged("reloaded:", times=count)
    mock.data.write_text(good[mock.data].replace("Reindex Events", "Fixed"))
    mock.logged("reloaded:", times=len(bad) + 1)
    assert mock.jobs() == {DOCUMENTED_ID: "Fixed"}
    assert "Traceback" not in mock.log.read_text()
    mock.stop()


@pytest.mark.parametrize(
    ("flag", "content", "said"),
    [
        ("--spec", None, "circular reference"),
        ("--data", BOMB, "billion-laughs"),
        ("--users", "&a [*a]\n", "contains it"),
        ("--data", "/dev/zero", "not a regular file"),
    ],
)
def test_a_file_the_mock_cannot_use_at_start_up_is_one_line_and_exit_2(
    tmp_path: Path, flag: str, content: str | None, said: str
) -> None:
    path = tmp_path / "file.yaml"
    if content is None:
        path.write_text(yaml.safe_dump(_circular(packaged_spec_path().read_text())))
    elif content.startswith("/dev/"):
        path.symlink_to(content)
    else:
        path.write_text(content)
    script = shutil.which("jobs-mock", path=str(Path(sys.executable).parent))
    assert script
    done = subprocess.run([script, "--port", "0", flag, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and said in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == "", done.stderr


def test_a_reload_reads_and_checks_off_the_event_loop(mock: Mock) -> None:
    """While a large data file is read and checked, the last good version goes on answering (it used to stop
    answering for as long as the reading took)."""
    mock.start("--frozen")
    template = yaml.safe_load(mock.data.read_text())["jobs"][0]
    jobs = [{**template, "uuid": f"{n:08x}-0000-4000-8000-000000000000"} for n in range(10_000)]
    answered: list[tuple[float, float]] = []  # (sent, answered), by the wall clock the log's times use
    done = threading.Event()

    def poll() -> None:
        with requests.Session() as session:
            while not done.is_set():
                sent = time.time()
                session.get(f"{mock.url}/openapi.json", timeout=60)
                answered.append((sent, time.time()))

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        written = time.time()
        mock.data.write_text(yaml.safe_dump({"jobs": jobs}))
        line = next(line for line in mock.logged("reloaded:", timeout=120).splitlines() if "reloaded:" in line)
    finally:
        done.set()
        thread.join(timeout=60)
    reloaded = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000
    meanwhile = [pair for pair in answered if written < pair[0] and pair[1] < reloaded]
    assert len(meanwhile) >= 3, (len(answered), reloaded - written)
    assert len(mock.jobs()) == 10_000
    mock.stop()
