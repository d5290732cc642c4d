"""`jobs-mock --reload`: real edits of the spec, data and users files, served without a restart."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
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


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    mock = Running(tmp_path)
    shutil.copy(packaged_spec_path(), mock.spec)
    documented = yaml.safe_load((Path(__file__).parent.parent / "mockserver" / "domain" / "data.yaml").read_text())[
        "jobs"
    ][0]
    mock.data.write_text(yaml.safe_dump({"jobs": [documented]}))
    mock.users.write_text(
        yaml.safe_dump({"users": [{"login": "admin", "password": "admin", "fullname": "A", "manageJobs": True}]})
    )
    script = shutil.which("jobs-mock", path=str(Path(sys.executable).parent))
    assert script
    command = [script, "--port", "0", "--reload", "--frozen", "--seed", "1"]
    command += ["--spec", str(mock.spec), "--data", str(mock.data), "--users", str(mock.users)]
    with mock.log.open("w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Listening on http://127.0.0.1:"), mock.log.read_text()
        mock.url = first.split()[-1]
        yield mock
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=15)
    assert process.returncode == 0 and "shutting down" in out


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


def test_a_users_edit_is_served_with_no_request_refused_meanwhile(running: Running) -> None:
    kept = running.create("Kept")
    answers: list[int | str] = []
    done = threading.Event()

    def hammer() -> None:
        # A new connection each time: one kept alive across the swap is closed by the old app, and a request
        # sent at that very moment fails as after any server's keep-alive timeout (browsers retry those).
        with requests.Session() as session:
            while not done.is_set():
                try:
                    answers.append(session.get(f"{running.url}/openapi.json", timeout=15, headers=HEADERS).status_code)
                except requests.RequestException as exc:  # recorded, so the assertion below names it
                    answers.append(type(exc).__name__)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        ops = {"login": "ops", "password": "pw", "fullname": "O", "manageJobs": True}
        running.edit(running.users, lambda document: document["users"].append(ops))
        running.logged("reloaded:")
        time.sleep(0.3)
    finally:
        done.set()
        thread.join(timeout=10)
    assert running.admin("ops", "pw").get(f"{running.url}/@jobs/{kept}").status_code == 200
    assert running.jobs()[kept] == "Kept"
    assert len(answers) > 10 and set(answers) == {200}, [a for a in answers if a != 200][:5]


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
