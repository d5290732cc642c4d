"""The Playwright fixture file a TypeScript project copies (examples/playwright/): strict tsc, then its sessions run.

Playwright's test runner is not installed here, so "@playwright/test" is a stand-in with the few
types and the one function the file uses; what the file does itself (open, use, reset and remove
sessions over HTTP) runs under node against a live mock.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.test_ts_client import FRONTEND, MISSING, REQUIRED, _install, _run

pytestmark = pytest.mark.skipif(MISSING is not None and not REQUIRED, reason=f"TypeScript test skipped: {MISSING}")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "playwright" / "jobs-mock-session.ts"

STAND_IN_TYPES = """
export interface TestInfo { workerIndex: number; testId: string }
type Use<T> = (value: T) => Promise<void>;
type Fixtures<T> = { [K in keyof T]: (args: T & Record<string, unknown>, use: Use<T[K]>, info: TestInfo) => Promise<void> };
interface Builtin { extraHTTPHeaders: Record<string, string> | undefined }
export declare const test: { extend<T extends object>(fixtures: Fixtures<T> & Partial<Fixtures<Builtin & T>>): unknown };
export declare function expect(value: unknown): unknown;
"""
STAND_IN = "export const test = { extend: (fixtures) => fixtures };\nexport const expect = (value) => value;\n"
DRIVER = """
import { openSession } from "./jobs-mock-session.js";

const [url, id] = process.argv.slice(2) as [string, string];
const login = await fetch(`${url}/@login`, {method: "POST", headers: {"Content-Type": "application/json"},
  body: JSON.stringify({login: "admin", password: "admin"})});
const auth = {Authorization: `Bearer ${((await login.json()) as {token: string}).token}`};
const [one, two] = [await openSession(url, "ts-one"), await openSession(url, "ts-two")];
const deleted = (await fetch(`${url}/@jobs/${id}`, {method: "DELETE", headers: {...auth, ...one.headers}})).status;
const seen = async (base: string) => (await fetch(`${base}/@jobs/${id}`, {headers: auth})).status;
const before = [await seen(one.url), await seen(two.url)];
await one.reset();
const after = await seen(one.url);
const jobs = ((await two.control("GET", "jobs")) as unknown[]).length;
await one.remove();
await two.remove();
console.log(JSON.stringify({deleted, before, after, jobs}));
"""


def test_the_fixture_file_type_checks_and_its_sessions_work(tmp_path: Path) -> None:
    _install()
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    (tmp_path / "main.ts").write_text(DRIVER)
    stand_in = tmp_path / "node_modules" / "@playwright" / "test"
    stand_in.mkdir(parents=True)
    (stand_in / "package.json").write_text(
        '{"name": "@playwright/test", "type": "module", "main": "index.js", "types": "index.d.ts"}'
    )
    (stand_in / "index.d.ts").write_text(STAND_IN_TYPES)
    (stand_in / "index.js").write_text(STAND_IN)
    (tmp_path / "node_modules" / "@types").symlink_to(FRONTEND / "node_modules" / "@types", target_is_directory=True)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    config = json.loads((FRONTEND / "tsconfig.json").read_text())
    config["compilerOptions"].update(rootDir=".", outDir="dist")
    config["include"] = ["*.ts"]
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    _run([str(FRONTEND / "node_modules" / ".bin" / "tsc"), "-p", "."], tmp_path, timeout=300)
    with LiveMock() as mock:
        done = _run(["node", "dist/main.js", mock.url, DOCUMENTED_ID], tmp_path, timeout=60)
        assert mock.control("GET", "sessions")["sessions"] == []
    assert json.loads(done.stdout) == {"deleted": 204, "before": [404, 200], "after": 200, "jobs": 7}
