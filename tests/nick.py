"""Real Nick for the kit's tests: Nick 2.8.0 on PostgreSQL, stock or with the jobs site of `examples/nick-site`.

    with RealNick(jobs=True) as nick:
        nick.url                # http://127.0.0.1:PORT, Nick bound to loopback only
        nick.database           # where its data is (DB_* settings), e.g. for examples/nick-site/make-job
        nick.fixture_command    # `--fixtures` value for the conformance suite: command:env DB_...=... make-job

Once per machine (cached under ~/.cache/nick-jobs-kit, or $NICK_KIT_CACHE; safe when several processes race,
through a file lock) Nick is unpacked from its archive ($NICK_ARCHIVE, ../shared/nick/, /work/shared/nick/, or
a clone of the pinned commit when GitHub answers) and `pnpm install`ed, and two template databases are built:
stock Nick migrated and seeded with the user editor/editor123 (role Editor) made through @users, and a copy
with the site's migration and profile. Each instance then gets its own database (`CREATE DATABASE ... TEMPLATE`,
dropped on exit) and its own Nick process group. A missing prerequisite raises NickUnavailable with the reason.

Only the standard library: `.ci/nick-setup` runs `python3 tests/nick.py prepare` before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

NICK_VERSION = "2.8.0"
NICK_COMMIT = "7c9be18e1be9e4bc723f246c121a4b912ed41211"
NICK_GIT = "https://github.com/robgietema/nick.git"
ARCHIVE_NAME = f"nick-{NICK_VERSION}-{NICK_COMMIT[:8]}.tar.gz"
PNPM_VERSION = "10.33.2"  # exactly Nick's packageManager: another pnpm tries to switch to it and fails here
NODE_MAJOR = 20  # Nick's engines: ^20 || ^22 || ^23 || ^24

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "nick-site"
MAKE_JOB = SITE / "make-job"
ADMIN = ("admin", "admin")
EDITOR = ("editor", "editor123")  # Nick refuses passwords under 8 characters

DB_PREFIX = "nickkit_"
# Bumped when the way a template is built changes, so an old template is not used.
TEMPLATE_VERSION = 1
KEEP_SITES = 3  # versions of the example site whose template and copy are kept
INSTANCE_DB = re.compile(rf"^{DB_PREFIX}i(\d+)_[0-9a-f]+$")
START_TIMEOUT = 90.0  # seconds; Nick answers in a few once installed, but a loaded CI machine is slow

# Loaded into every node process of a Nick instance (NODE_OPTIONS=--require): Nick calls app.listen(port),
# which binds every interface; a bare listen(port[, cb]) gets $HOST added. And the instance ends itself once
# the process that started it is gone, so a test run killed with SIGKILL leaves no server behind.
PRELOAD = """\
// Written by tests/nick.py (the nick-jobs-kit); not part of Nick.
const net = require('net');
const orig = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if ((typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\\d+$/.test(args[0])))
      && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, process.env.HOST || '127.0.0.1');
  }
  return orig.apply(this, args);
};
const parent = Number(process.env.NICK_KIT_PARENT);
if (parent > 0) {
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch (err) {
      if (err.code === 'ESRCH') process.exit(0);
    }
  }, 1000).unref();
}
"""


class NickUnavailable(Exception):
    """A prerequisite of real Nick is missing here; the message says which and how to get it."""


@dataclasses.dataclass(frozen=True)
class Database:
    """Where a Nick's data is: the DB_* settings Nick's config reads (with Nick's defaults)."""

    host: str
    port: int
    name: str
    user: str
    password: str

    @classmethod
    def from_env(cls, name: str | None = None) -> Database:
        """The server and role from DB_HOST, DB_PORT, DB_USER, DB_PASSWORD (Nick's defaults), with `name`."""
        env = os.environ
        return cls(
            host=env.get("DB_HOST") or "localhost",
            port=int(env.get("DB_PORT") or 5432),
            name=name or env.get("DB_NAME") or "nick",
            user=env.get("DB_USER") or "nick",
            password=env.get("DB_PASSWORD") or "nick",
        )

    def with_name(self, name: str) -> Database:
        """The same server and role, another database."""
        return dataclasses.replace(self, name=name)

    @property
    def env(self) -> dict[str, str]:
        """The settings as Nick's (and make-job's) environment variables."""
        return {
            "DB_HOST": self.host,
            "DB_PORT": str(self.port),
            "DB_NAME": self.name,
            "DB_USER": self.user,
            "DB_PASSWORD": self.password,
        }

    @property
    def local(self) -> bool:
        """Whether the server is this machine's (so root may administer it as the postgres user)."""
        return self.host in ("localhost", "127.0.0.1", "::1") or self.host.startswith("/")


def cache_dir() -> Path:
    """Where the installed Nick, the site copies and the lock live."""
    if os.environ.get("NICK_KIT_CACHE"):
        return Path(os.environ["NICK_KIT_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "nick-jobs-kit"


def nick_dir() -> Path:
    """The unpacked, installed Nick (its package.json is here)."""
    return cache_dir() / f"nick-{NICK_VERSION}-{NICK_COMMIT[:8]}" / "nick"


def archive_candidates() -> list[Path]:
    """Where Nick's archive is looked for, in order."""
    found = [Path(os.environ["NICK_ARCHIVE"])] if os.environ.get("NICK_ARCHIVE") else []
    return [*found, ROOT.parent / "shared" / "nick" / ARCHIVE_NAME, Path("/work/shared/nick") / ARCHIVE_NAME]


def site_hash() -> str:
    """A digest of the example site's files that Nick reads: a changed site gets its own copy and template."""
    digest = hashlib.sha256()
    skipped = {"README.md", "make-job"}  # not Nick's: editing them needs no new template
    files = [p for p in SITE.rglob("*") if p.is_file() and p.name not in skipped and "node_modules" not in p.parts]
    for path in sorted(files):
        digest.update(str(path.relative_to(SITE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def site_dir(digest: str) -> Path:
    """The site's copy, set up as a generated Nick site (src/develop/nick, node_modules) would be."""
    return cache_dir() / f"site-{digest}"


def template_names(digest: str) -> tuple[str, str]:
    """The two template databases: stock Nick, and with the site's migration and profile."""
    stock = f"{DB_PREFIX}t{TEMPLATE_VERSION}_stock_{NICK_COMMIT[:8]}"
    return stock, f"{DB_PREFIX}t{TEMPLATE_VERSION}_site_{digest}"


def _run(cmd: list[str], *, what: str, timeout: float = 600, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, raising RuntimeError with its output's tail when it fails."""
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL, **kwargs
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what}: `{shlex.join(cmd)}` did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-2000:]
        raise RuntimeError(f"{what}: `{shlex.join(cmd)}` exited with {done.returncode}:\n{tail}")
    return done


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """The machine-wide lock around preparing (another process may be doing the same)."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- tools ---------------------------------------------------------------------------------------------------


def _check_node() -> str:
    """The node executable, if it is a version Nick supports."""
    node = shutil.which("node")
    if node is None:
        raise NickUnavailable(f"no `node` on PATH (Nick {NICK_VERSION} needs Node {NODE_MAJOR} or later)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < NODE_MAJOR:
        raise NickUnavailable(
            f"Nick {NICK_VERSION} needs Node {NODE_MAJOR} or later; `node --version` says {version!r}"
        )
    return node


def _check_pnpm() -> str:
    """The pnpm executable, if it is exactly Nick's version."""
    pnpm = shutil.which("pnpm")
    version = ""
    if pnpm:
        version = subprocess.run([pnpm, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if pnpm is None or version != PNPM_VERSION:
        found = f"found {version!r}" if pnpm else "none on PATH"
        raise NickUnavailable(
            f"installing Nick needs pnpm {PNPM_VERSION} exactly ({found}): npm i -g pnpm@{PNPM_VERSION}, or .ci/nick-setup"
        )
    return pnpm


def _psql_client() -> str:
    """The psql client (the harness and make-job talk to PostgreSQL through it)."""
    psql = shutil.which("psql")
    if psql is None:
        raise NickUnavailable("no `psql` on PATH (PostgreSQL's client: apt-get install postgresql, or .ci/nick-setup)")
    return psql


# --- PostgreSQL ----------------------------------------------------------------------------------------------


def _psql_command(db: Database, *, admin: bool) -> tuple[list[str], dict[str, str]]:
    """A psql command line and environment: as the postgres superuser when root on a local server, else as the role."""
    psql = _psql_client()
    options = ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-p", str(db.port), "-d", db.name]
    if admin and os.geteuid() == 0 and db.local:
        # Peer authentication over the local socket; runuser needs no password and no terminal.
        return ["runuser", "-u", "postgres", "--", psql, *options], dict(os.environ)
    return [psql, "-h", db.host, "-U", db.user, *options], {**os.environ, "PGPASSWORD": db.password}


def psql(db: Database, sql: str, *, admin: bool = False, timeout: float = 60) -> str:
    """Run SQL in `db` and return psql's unaligned output."""
    cmd, env = _psql_command(db, admin=admin)
    return _run([*cmd, "-c", sql], what="psql", timeout=timeout, env=env).stdout.strip()


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    """A quoted SQL string."""
    return "'" + value.replace("'", "''") + "'"


def _server_ready(db: Database) -> bool:
    """Whether the PostgreSQL server answers."""
    pg_isready = shutil.which("pg_isready")
    if pg_isready is None:
        return False
    host = [] if db.host.startswith("/") else ["-h", db.host]
    done = subprocess.run([pg_isready, "-q", *host, "-p", str(db.port)], check=False, timeout=30)
    return done.returncode == 0


def ensure_postgres(db: Database) -> None:
    """The server answers (started here when it is installed but stopped), and the role exists."""
    _psql_client()
    if not _server_ready(db):
        server = (
            shutil.which("pg_ctlcluster")
            or shutil.which("initdb")
            or next(Path("/usr/lib/postgresql").glob("*/bin/initdb"), None)
        )
        if server is None:
            raise NickUnavailable(
                "no PostgreSQL server installed (no pg_ctlcluster or initdb): apt-get install postgresql, or .ci/nick-setup"
            )
        if not (db.local and os.geteuid() == 0 and shutil.which("pg_ctlcluster") and shutil.which("pg_lsclusters")):
            raise NickUnavailable(f"PostgreSQL does not answer on {db.host}:{db.port} and cannot be started from here")
        clusters = [line.split() for line in _run(["pg_lsclusters", "-h"], what="pg_lsclusters").stdout.splitlines()]
        wanted = [c for c in clusters if len(c) >= 3 and c[2] == str(db.port)]
        if not wanted:
            raise NickUnavailable(f"no PostgreSQL cluster on port {db.port} (pg_lsclusters lists {len(clusters)})")
        _run(["pg_ctlcluster", wanted[0][0], wanted[0][1], "start"], what="starting PostgreSQL")
        deadline = time.monotonic() + 30
        while not _server_ready(db):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL cluster {wanted[0][0]}/{wanted[0][1]} started but does not answer")
            time.sleep(0.2)
    admin = db.with_name("postgres")
    if os.geteuid() == 0 and db.local:
        found = psql(admin, f"SELECT 1 FROM pg_roles WHERE rolname = {_literal(db.user)}", admin=True)
        if found != "1":
            psql(admin, f"CREATE ROLE {_ident(db.user)} LOGIN PASSWORD {_literal(db.password)}", admin=True)
    else:
        try:
            psql(admin, "SELECT 1")
        except RuntimeError as exc:
            raise NickUnavailable(
                f"cannot connect to PostgreSQL as {db.user!r} (and not root here to fix it): {exc}"
            ) from None


def _database_names(db: Database, pattern: str) -> list[str]:
    """The databases whose names match a LIKE pattern."""
    out = psql(
        db.with_name("postgres"), f"SELECT datname FROM pg_database WHERE datname LIKE {_literal(pattern)}", admin=True
    )
    return out.split()


def drop_database(db: Database, name: str) -> None:
    """Drop a database, ending whatever is still connected to it."""
    psql(db.with_name("postgres"), f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)", admin=True)


def drop_stale_instances(db: Database) -> None:
    """Drop the databases of instances whose test process is gone (killed before it could clean up)."""
    for name in _database_names(db, f"{DB_PREFIX}i%"):
        match = INSTANCE_DB.match(name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(RuntimeError):
                drop_database(db, name)


def _alive(pid: int) -> bool:
    """Whether a process exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- preparing (once per machine) ----------------------------------------------------------------------------


def _unpack_nick(target: Path) -> None:
    """Put Nick's source in `target` (a new directory): from the archive, else a clone of the pinned commit."""
    archive = next((path for path in archive_candidates() if path.is_file()), None)
    if archive is not None:
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            _run(["tar", "-xzf", str(archive), "-C", scratch], what=f"unpacking {archive}")
            os.rename(Path(scratch) / "nick", target)
        return
    git = shutil.which("git")
    looked = ", ".join(str(path) for path in archive_candidates())
    if git is None:
        raise NickUnavailable(f"no Nick archive ({looked}) and no git to clone {NICK_GIT}")
    try:
        _run([git, "ls-remote", "--heads", NICK_GIT], what="reaching GitHub", timeout=30)
    except RuntimeError:
        raise NickUnavailable(
            f"no Nick archive ({looked}; or set NICK_ARCHIVE) and {NICK_GIT} cannot be reached"
        ) from None
    target.mkdir()
    for step in (
        ["init", "-q"],
        ["fetch", "-q", "--depth", "1", NICK_GIT, NICK_COMMIT],
        ["checkout", "-q", "FETCH_HEAD"],
    ):
        _run([git, "-C", str(target), *step], what="cloning Nick")


def _prepare_nick() -> None:
    """Unpack and install Nick, once (the caller holds the lock); a half-done earlier attempt is redone."""
    nick = nick_dir()
    ready = nick.parent / ".ready"
    if ready.exists():
        return
    node = _check_node()
    pnpm = _check_pnpm()
    if nick.parent.exists():
        shutil.rmtree(nick.parent)
    nick.parent.mkdir(parents=True)
    _unpack_nick(nick)
    package = json.loads((nick / "package.json").read_text())
    if package.get("version") != NICK_VERSION:
        raise RuntimeError(f"{nick}: expected Nick {NICK_VERSION}, found {package.get('version')!r}")
    # Installed where it stays: pnpm's .bin shims hold absolute paths.
    env = {**os.environ, "PATH": f"{Path(node).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    _run([pnpm, "install", "--frozen-lockfile"], what="pnpm install (Nick)", cwd=nick, env=env, timeout=1200)
    config = (nick / "config.ts.sample").read_text()
    # As start-nick.sh does: the port follows $PORT (Nick fixes it at 8080).
    (nick / "config.ts").write_text(
        config.replace("\n  port: 8080,\n", "\n  port: Number(process.env.PORT) || 8080,\n")
    )
    ready.write_text(f"{NICK_COMMIT}\n")


def _prepare_site(digest: str) -> Path:
    """A copy of the example site, set up as a generated site is after `pnpm install` (the caller holds the lock)."""
    # A generated site has Nick checked out in src/develop/nick and linked as the workspace package
    # @robgietema/nick; here both point at the installed Nick, and the site's node_modules offers Nick's
    # own dependencies (knex, uuid, ...), the versions the site's package.json names.
    target = site_dir(digest)
    if target.exists():
        return target
    nick = nick_dir()
    scratch = Path(tempfile.mkdtemp(prefix=".site-", dir=cache_dir()))
    try:
        shutil.copytree(SITE, scratch, dirs_exist_ok=True, ignore=shutil.ignore_patterns("node_modules", "develop"))
        (scratch / "src" / "develop").mkdir()
        (scratch / "src" / "develop" / "nick").symlink_to(nick)
        modules = scratch / "node_modules"
        modules.mkdir()
        for entry in (nick / "node_modules").iterdir():
            if not entry.name.startswith("."):
                (modules / entry.name).symlink_to(entry)
        scope = modules / "@robgietema"
        if scope.is_symlink():  # Nick has no @robgietema dependency today; keep any it gains
            scope.unlink()
            scope.mkdir()
            for entry in (nick / "node_modules" / "@robgietema").iterdir():
                (scope / entry.name).symlink_to(entry)
        scope.mkdir(exist_ok=True)
        (scope / "nick").symlink_to(nick)
        os.rename(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return target


def _write_preload() -> Path:
    """The NODE_OPTIONS preload, rewritten only when its text changed (atomically: instances may be reading it)."""
    path = cache_dir() / "nick-kit-preload.cjs"
    if not path.exists() or path.read_text() != PRELOAD:
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(PRELOAD)
        os.replace(scratch, path)
    return path


def _tsx(script: str, *args: str, cwd: Path, db: Database, what: str) -> str:
    """Run a TypeScript script of Nick (knex's CLI, the seed) as `pnpm migrate` / `pnpm seed` would, against `db`."""
    nick = nick_dir()
    cmd = [str(nick / "node_modules" / ".bin" / "tsx"), script, *args]
    return _run(cmd, what=what, cwd=cwd, env={**os.environ, **db.env}, timeout=600).stdout


def _build_stock_template(db: Database, name: str) -> None:
    """Stock Nick migrated and seeded, with the editor made through @users (the caller holds the lock)."""
    nick = nick_dir()
    building = db.with_name(f"{name}_building")
    drop_database(db, building.name)
    psql(db.with_name("postgres"), f"CREATE DATABASE {_ident(building.name)} OWNER {_ident(db.user)}", admin=True)
    _tsx("node_modules/knex/bin/cli.js", "migrate:latest", cwd=nick, db=building, what="pnpm migrate")
    out = _tsx("scripts/seed.ts", "run", cwd=nick, db=building, what="pnpm seed")
    # Nick's seed script logs an error and still exits 0.
    if psql(building, "SELECT 1 FROM \"user\" WHERE id = 'admin'") != "1":
        raise RuntimeError(f"pnpm seed did not make the admin user:\n{out[-2000:]}")
    with _NickProcess(building, jobs=False, auth_rate_limit=1000, api_rate_limit=1000, extra_env={}) as server:
        token = server.login(*ADMIN)
        body = {
            "username": EDITOR[0],
            "password": EDITOR[1],
            "fullname": "Editor",
            "email": "editor@example.com",
            "roles": ["Editor"],
        }
        status, text = request(server.url, "POST", "/@users", token=token, body=body)
        if status != 201:
            raise RuntimeError(f"creating the editor through @users answered {status}: {text[:500]}")
        request(server.url, "POST", "/@logout", token=token)
    _finish_template(db, building.name, name)


def _build_site_template(db: Database, stock: str, name: str, site: Path) -> None:
    """The stock template plus the site's migration and profile (the caller holds the lock)."""
    building = db.with_name(f"{name}_building")
    drop_database(db, building.name)
    psql(
        db.with_name("postgres"),
        f"CREATE DATABASE {_ident(building.name)} TEMPLATE {_ident(stock)} OWNER {_ident(db.user)}",
        admin=True,
    )
    # The site's knexfile lists Nick's migrations and its own; its seed applies Nick's profiles (already
    # there) and its own (the Manage Jobs permission).
    _tsx("node_modules/knex/bin/cli.js", "migrate:latest", cwd=site, db=building, what="site migrate")
    out = _tsx("src/develop/nick/scripts/seed.ts", "run", cwd=site, db=building, what="site seed")
    granted = psql(
        building,
        "SELECT 1 FROM role_permission WHERE role = 'Administrator' AND permission = 'Manage Jobs'",
    )
    if granted != "1" or psql(building, "SELECT to_regclass('job') IS NOT NULL") != "t":
        raise RuntimeError(f"the site's migrate and seed left no job table or no Manage Jobs:\n{out[-2000:]}")
    _finish_template(db, building.name, name)


def _finish_template(db: Database, building: str, name: str) -> None:
    """Give a finished database its template name (so a half-built one is never used) and close it to connections."""
    admin = db.with_name("postgres")
    # The stopped Nick's connections may take a moment to go; a database is renamed only without any.
    end = f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {_literal(building)}"
    for attempt in range(50):
        psql(admin, end, admin=True)
        try:
            psql(admin, f"ALTER DATABASE {_ident(building)} RENAME TO {_ident(name)}", admin=True)
            break
        except RuntimeError:
            if attempt == 49:
                raise
            time.sleep(0.1)
    psql(admin, f"ALTER DATABASE {_ident(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", admin=True)


def _drop_template(db: Database, name: str) -> None:
    """Drop a template database (a template cannot be dropped until it is made an ordinary one)."""
    admin = db.with_name("postgres")
    psql(admin, f"ALTER DATABASE {_ident(name)} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true", admin=True)
    drop_database(db, name)


def _prune_sites(db: Database, keep: str) -> None:
    """Drop the site templates and copies of all but the most recently used site versions (the caller holds the lock)."""
    # Every edit of the example site makes a new template (10 MB) and copy; the few newest stay for other
    # checkouts (worktrees) that may be on another version of the site.
    prefix = f"{DB_PREFIX}t{TEMPLATE_VERSION}_site_"
    digests = [name.removeprefix(prefix) for name in _database_names(db, f"{prefix}%") if name != keep]
    digests.sort(key=lambda digest: site_dir(digest).stat().st_mtime if site_dir(digest).exists() else 0.0)
    for digest in digests[: max(0, len(digests) - (KEEP_SITES - 1))]:
        _drop_template(db, f"{prefix}{digest}")
        shutil.rmtree(site_dir(digest), ignore_errors=True)


@dataclasses.dataclass
class Prepared:
    """What the instances of one site version start from."""

    db: Database
    site: Path
    stock_template: str
    site_template: str
    preload: Path
    seconds: float


def prepare(db: Database | None = None) -> Prepared:
    """Everything real Nick needs on this machine, made once (idempotent; concurrent callers wait for the first)."""
    started = time.monotonic()
    db = db or Database.from_env()
    _check_node()
    ensure_postgres(db)
    digest = site_hash()
    stock, site_template = template_names(digest)

    def complete() -> bool:
        templates = set(_database_names(db, f"{DB_PREFIX}t{TEMPLATE_VERSION}_%"))
        ready = (nick_dir().parent / ".ready").exists() and site_dir(digest).exists()
        return ready and stock in templates and site_template in templates

    if not complete():
        with _locked():
            _prepare_nick()
            site = _prepare_site(digest)
            templates = set(_database_names(db, f"{DB_PREFIX}t{TEMPLATE_VERSION}_%"))
            if stock not in templates:
                _build_stock_template(db, stock)
            if site_template not in templates:
                _build_site_template(db, stock, site_template, site)
                _prune_sites(db, keep=site_template)
    with _locked():
        preload = _write_preload()
        os.utime(site_dir(digest))  # most recently used: the last to be pruned
    return Prepared(db, site_dir(digest), stock, site_template, preload, time.monotonic() - started)


# --- HTTP ----------------------------------------------------------------------------------------------------


def request(
    base: str, method: str, path: str, *, token: str | None = None, body: Any = None, timeout: float = 30
) -> tuple[int, str]:
    """One HTTP exchange with Nick: (status, body text)."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    call = urllib.request.Request(f"{base}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def _free_port() -> int:
    """A port nothing listens on now (Nick binds it a moment later; a lost race is retried)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _NickProcess:
    """One Nick server process group on a database that exists already."""

    def __init__(
        self,
        db: Database,
        *,
        jobs: bool,
        auth_rate_limit: int,
        api_rate_limit: int,
        extra_env: dict[str, str],
        site: Path | None = None,
        preload: Path | None = None,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.site = site
        self.preload = preload or _write_preload()
        self.env = {
            **os.environ,
            **db.env,
            "AUTH_RATE_LIMIT": str(auth_rate_limit),
            "API_RATE_LIMIT": str(api_rate_limit),
            "HOST": "127.0.0.1",
            "NODE_OPTIONS": f"--require {self.preload}",
            "NICK_KIT_PARENT": str(os.getpid()),
            **extra_env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.rundir: Path | None = None
        self.log_path: Path | None = None
        self.port = 0
        self.url = ""

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _make_rundir(self) -> Path:
        """Nick's working directory, one per instance: config, routes and tasks come from it, logs go into it."""
        # Nick imports `${cwd}/config`, `${cwd}/src/routes`, `${cwd}/src/tasks` and log4js writes var/log/ under
        # the working directory: links to the site (or stock Nick) and a var/ of its own, removed with it.
        rundir = Path(tempfile.mkdtemp(prefix="nick-kit-"))
        source = self.site if self.jobs and self.site else nick_dir()
        (rundir / "config.ts").symlink_to(source / "config.ts")
        (rundir / "tsconfig.json").symlink_to(source / "tsconfig.json")
        (rundir / "package.json").symlink_to(source / "package.json")
        if self.jobs:
            (rundir / "src").symlink_to(source / "src")
        (rundir / "var" / "blobstorage").mkdir(parents=True)
        return rundir

    def start(self) -> None:
        """Start Nick and wait until it answers."""
        self.rundir = self._make_rundir()
        self.log_path = self.rundir / "nick.log"
        nick = nick_dir()
        self.env["BLOBS_DIR"] = str(self.rundir / "var" / "blobstorage")
        for _attempt in range(3):
            self.port = _free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.env["PORT"] = str(self.port)
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [str(nick / "node_modules" / ".bin" / "tsx"), str(nick / "src" / "server.ts")],
                    cwd=self.rundir,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: tsx, node and esbuild end together
                )
            if self._wait_ready():
                return
            if "EADDRINUSE" not in self.log_tail():
                break
            self._kill()
        raise RuntimeError(f"Nick did not start (database {self.db.name}); its log ends:\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        """Poll until Nick answers (True) or its process ends or time runs out (False)."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            with contextlib.suppress(OSError):
                status, _ = request(self.url, "GET", "/", timeout=10)
                if status == 200:
                    return True
            time.sleep(0.05)
        return False

    def log_tail(self, size: int = 3000) -> str:
        """The end of Nick's output."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-size:].decode(errors="replace")

    def login(self, login: str, password: str) -> str:
        """A token from @login."""
        status, text = request(self.url, "POST", "/@login", body={"login": login, "password": password})
        if status != 200:
            raise RuntimeError(f"@login as {login} answered {status}: {text[:300]}")
        token: str = json.loads(text)["token"]
        return token

    def _kill(self) -> None:
        """End the process group: SIGTERM, then SIGKILL after 5 s."""
        process, self.process = self.process, None
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Children of the group (esbuild) may outlive the leader by a moment.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def stop(self) -> None:
        """End Nick and remove its working directory."""
        self._kill()
        if self.rundir is not None:
            shutil.rmtree(self.rundir, ignore_errors=True)
            self.rundir = None


class RealNick:
    """Real Nick 2.8.0 on its own fresh database and a free loopback port, as a context manager."""

    # jobs: with the example site's jobs route and worker (else stock Nick, where GET /@jobs is its 404).
    # auth_rate_limit, api_rate_limit: Nick's AUTH_RATE_LIMIT and API_RATE_LIMIT (stock: 5 and 100 per 15
    # minutes per address); 1000 by default, as Nick's own tests run, so that a test run does not trip them.
    # env: more environment for Nick.

    def __init__(
        self,
        *,
        jobs: bool = True,
        auth_rate_limit: int = 1000,
        api_rate_limit: int = 1000,
        env: dict[str, str] | None = None,
    ) -> None:
        self.jobs = jobs
        self.auth_rate_limit = auth_rate_limit
        self.api_rate_limit = api_rate_limit
        self.extra_env = dict(env or {})
        self.database = Database.from_env(f"{DB_PREFIX}i{os.getpid()}_{secrets.token_hex(4)}")
        self.timings: dict[str, float] = {}
        self._server: _NickProcess | None = None
        self._created = False

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Prepare (once per machine), copy the template database, start Nick and wait until it answers."""
        begun = time.monotonic()
        prepared = prepare(self.database.with_name("postgres"))
        self.timings["prepare"] = prepared.seconds
        drop_stale_instances(self.database)
        mark = time.monotonic()
        template = prepared.site_template if self.jobs else prepared.stock_template
        psql(
            self.database.with_name("postgres"),
            f"CREATE DATABASE {_ident(self.database.name)} TEMPLATE {_ident(template)} OWNER {_ident(self.database.user)}",
            admin=True,
        )
        self._created = True
        self.timings["database"] = time.monotonic() - mark
        mark = time.monotonic()
        self._server = _NickProcess(
            self.database,
            jobs=self.jobs,
            auth_rate_limit=self.auth_rate_limit,
            api_rate_limit=self.api_rate_limit,
            extra_env=self.extra_env,
            site=prepared.site,
            preload=prepared.preload,
        )
        self._server.start()
        self.timings["nick"] = time.monotonic() - mark
        self.timings["total"] = time.monotonic() - begun

    def stop(self) -> None:
        """End Nick's process group and drop the database."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._created:
            drop_database(self.database, self.database.name)
            self._created = False

    @property
    def url(self) -> str:
        """Nick's base URL, http://127.0.0.1:PORT."""
        assert self._server is not None, "RealNick is not started"
        return self._server.url

    @property
    def make_job_command(self) -> str:
        """The shell command that makes a job in this instance's database (append the state)."""
        settings = " ".join(f"{key}={shlex.quote(value)}" for key, value in self.database.env.items())
        return f"env {settings} {shlex.quote(str(MAKE_JOB))}"

    @property
    def fixture_command(self) -> str:
        """The conformance suite's `--fixtures` value for this instance."""
        return f"command:{self.make_job_command}"

    def login(self, login: str = ADMIN[0], password: str = ADMIN[1]) -> str:
        """A token from @login."""
        assert self._server is not None, "RealNick is not started"
        return self._server.login(login, password)

    def log_tail(self, size: int = 3000) -> str:
        """The end of Nick's output (for failure messages)."""
        return self._server.log_tail(size) if self._server else ""

    def make_job(self, state: str, *, outcome: str | None = None) -> str:
        """A new job in `state` (held there, or run soon to `outcome`) made by make-job; its uuid."""
        env = {**os.environ, **self.database.env}
        env.pop("JOBS_CONFORMANCE_OUTCOME", None)
        if outcome:
            env["JOBS_CONFORMANCE_OUTCOME"] = outcome
        done = _run([str(MAKE_JOB), state], what="make-job", env=env, timeout=60)
        return done.stdout.strip().splitlines()[-1]


def clean(db: Database | None = None) -> list[str]:
    """Drop every database the harness made (templates; instances whose process is gone) and the site copies."""
    db = db or Database.from_env()
    dropped = []
    with _locked():
        for name in _database_names(db, f"{DB_PREFIX}%"):
            match = INSTANCE_DB.match(name)
            if match and _alive(int(match.group(1))):
                continue
            _drop_template(db, name)
            dropped.append(name)
        for site in cache_dir().glob("site-*"):
            shutil.rmtree(site)
            dropped.append(str(site))
    return dropped


def main(argv: list[str] | None = None) -> int:
    """`prepare`: make the cached Nick and templates; `run`: start one instance until Ctrl-C; `clean`."""
    parser = argparse.ArgumentParser(prog="python3 tests/nick.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="unpack and install Nick, build the template databases (idempotent)")
    run = commands.add_parser("run", help="start one instance and keep it until Ctrl-C")
    run.add_argument("--stock", action="store_true", help="stock Nick, without the jobs site")
    run.add_argument("--auth-rate-limit", type=int, default=1000)
    run.add_argument("--api-rate-limit", type=int, default=1000)
    commands.add_parser("clean", help="drop the template and leftover databases, remove the site copies")
    args = parser.parse_args(argv)
    try:
        if args.command == "clean":
            for name in clean():
                print(f"removed {name}")
            return 0
        if args.command == "prepare":
            prepared = prepare()
            print(f"Nick {NICK_VERSION} ready in {nick_dir()} ({prepared.seconds:.1f} s)")
            print(f"templates: {prepared.stock_template}, {prepared.site_template}")
            return 0
        # A SIGTERM (`timeout`, a service manager) ends the instance as Ctrl-C does: database dropped.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        with RealNick(
            jobs=not args.stock, auth_rate_limit=args.auth_rate_limit, api_rate_limit=args.api_rate_limit
        ) as nick:
            print(f"Nick answers on {nick.url} (database {nick.database.name}; {nick.timings['total']:.1f} s)")
            if nick.jobs:
                print(f"fixtures: --fixtures {shlex.quote(nick.fixture_command)}")
            print("Ctrl-C stops it", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
        return 0
    except NickUnavailable as exc:
        print(f"real Nick unavailable: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
