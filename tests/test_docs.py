"""The docs: the site builds strictly with its generated pages, the README stays a door, and the examples run.

Every fenced code block of README.md and of the site's pages (docs/**/*.md) is preceded by a
comment saying what it is; the tests run every runnable one, so none can go stale:

- `<!-- example: mock [FLAGS] -->`: a console session (`$ ` commands, then what they print)
  against a fresh mock started with `jobs-mock FLAGS`; `localhost:8080` is that mock;
- `<!-- example: proxy -->`: the same through a `jobs-proxy` in front of the mock (`localhost:8081`);
- `<!-- example: python -->`: a complete program;
- `<!-- example: pytest -->` / `<!-- example: conftest -->`: a test module run by pytest (the
  kit's plugin gives `jobs_mock`), or a conftest.py run with a test that uses `jobs_mock`;
- `<!-- example: script -->`: a shell script run whole, which starts its own servers (its ports
  8080 and 8081 become free ones);
- `<!-- not run: WHY -->`: not runnable here (Docker, GitHub Actions, a real deployment, your
  own files, or output shown for a command above).

In a console session's output, a line `...` stands for any lines and `...` inside a line for
any text; `Date:` and `Server:` headers and timestamps are compared by shape only.
(docs/nick.md's indented blocks are commands against a real Nick: they are not fenced examples.)
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from conformance.options import OPTIONS as SUITE_OPTIONS
from jobspec import diagram, load_spec
from mockserver import cli as mock_cli
from mockserver.options import OPTIONS as MOCK_OPTIONS
from mockserver.testing import LiveMock
from tests.helpers import ROOT
from verdicts.catalogue import CHECKS

README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").rglob("*.md"))
MAX_README_WORDS = 1500
BIN = Path(sys.executable).parent  # the kit's commands, installed beside this Python
MARKER = re.compile(r"^<!-- (?:example: (?P<kind>[a-z]+)(?: (?P<args>.*?))?|not run: (?P<why>.+?)) -->$")
FENCE = re.compile(r"^(?P<fence>```+)(?P<info>[^`]*)$")
KINDS = ("mock", "proxy", "python", "pytest", "conftest", "script")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
VOLATILE_HEADER = re.compile(r"^(Date|Server): .*$")
LINK = re.compile(r"\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Example:
    """A fenced code block of a page, and what its marker says to do with it."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    kind: str | None  # None: not run
    args: str
    why: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def examples(path: Path) -> Iterator[Example | tuple[Path, int]]:
    """The page's fenced blocks; `(path, line)` for one without a marker on the line before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == opening["fence"])
        marker = MARKER.match(lines[index - 1]) if index else None
        if marker is None:
            yield path, index + 1
        else:
            code = "\n".join(lines[index + 1 : end]) + "\n"
            language = opening["info"].split()[0] if opening["info"].strip() else ""
            yield Example(path, index + 1, language, code, marker["kind"], marker["args"] or "", marker["why"] or "")
        index = end + 1


ALL = [found for path in [README, *PAGES] for found in examples(path)]
RUNNABLE = [example for example in ALL if isinstance(example, Example) and example.kind is not None]


def test_every_fenced_block_says_whether_it_runs() -> None:
    unmarked = [f"{path.relative_to(ROOT)}:{line}" for path, line in (f for f in ALL if isinstance(f, tuple))]
    assert unmarked == [], "add <!-- example: KIND --> or <!-- not run: WHY --> before each"
    unknown = [example.id for example in RUNNABLE if example.kind not in KINDS]
    assert unknown == [], f"kinds: {KINDS}"


def test_the_readme_is_a_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.split()) <= MAX_README_WORDS
    readme_examples = [example for example in ALL if isinstance(example, Example) and example.path == README]
    assert {example.kind for example in readme_examples} >= {"mock", "script"}  # the quick starts run
    targets = [target for target in LINK.findall(text) if "://" not in target]
    assert [target for target in targets if not (ROOT / target.split("#")[0]).is_file()] == []
    assert {target for target in targets if target.startswith("docs/")} >= {
        f"docs/{page}" for page in ("guides/frontend.md", "guides/deployment.md", "guides/ci.md")
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as CI builds it: `mkdocs build --strict` (any warning fails)."""
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    return out


def test_site__flag_references_come_from_the_option_tables_and_parsers(site: Path) -> None:
    mock = (site / "reference" / "jobs-mock" / "index.html").read_text(encoding="utf-8")
    assert all(f"<code>{option.flag}" in mock for option in MOCK_OPTIONS)
    assert mock_cli.parser().format_usage().split()[1] == "jobs-mock" and "--version" in mock
    suite = (site / "reference" / "jobs-conformance" / "index.html").read_text(encoding="utf-8")
    for option in SUITE_OPTIONS:
        assert f"--{option.name.replace('_', '-')}" in suite and f"--jobs-{option.name.replace('_', '-')}" in suite
    proxy = (site / "reference" / "jobs-proxy" / "index.html").read_text(encoding="utf-8")
    assert "--fail-on-violation" in proxy and "--upstream" in proxy
    drift = (site / "reference" / "jobs-drift" / "index.html").read_text(encoding="utf-8")
    assert "--forbidden-login" in drift and "--jwt-secret" in drift


def test_site__control_api_check_catalogue_lifecycle_and_changelog_are_generated(site: Path) -> None:
    control = (site / "mock" / "control-api" / "index.html").read_text(encoding="utf-8")
    for path in ("/__mock__/jobs/{id}/move", "/__mock__/clock/advance", "/__mock__/journal/count"):
        assert path in control
    catalogue = (site / "reference" / "checks" / "index.html").read_text(encoding="utf-8")
    assert all(f"<code>{name}</code>" in catalogue for name in CHECKS)
    spec = (site / "spec" / "index.html").read_text(encoding="utf-8")
    drawn = diagram.mermaid(load_spec().lifecycle).replace("&", "&amp;").replace('"', "&quot;").replace(">", "&gt;")
    assert drawn.splitlines()[1] in spec and drawn.splitlines()[-1] in spec
    changelog = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    assert "issue 28" in changelog


# ---- the examples --------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "120"}


@pytest.mark.parametrize("example", [pytest.param(e, id=e.id) for e in RUNNABLE])
def test_example_runs(example: Example, tmp_path: Path) -> None:
    if example.kind in ("mock", "proxy"):
        run_session(example, tmp_path)
    elif example.kind == "script":
        code = example.code
        for port in ("8080", "8081"):
            code = re.sub(rf"\b{port}\b", str(free_port()), code)
        (tmp_path / "example.sh").write_text(code, encoding="utf-8")
        done = subprocess.run(
            ["bash", "example.sh"], cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        run_python(example, tmp_path)


def run_python(example: Example, tmp_path: Path) -> None:
    """A program, a test module, or a conftest.py with a test of its own."""
    if example.kind == "python":
        (tmp_path / "example.py").write_text(example.code, encoding="utf-8")
        command = [sys.executable, "example.py"]
    else:
        if example.kind == "conftest":
            (tmp_path / "conftest.py").write_text(example.code, encoding="utf-8")
            code = (
                "def test_the_mock_starts_as_configured(jobs_mock):\n    assert jobs_mock.url.startswith('http://')\n"
            )
        else:
            code = example.code
        (tmp_path / "test_example.py").write_text(code, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"]
    done = subprocess.run(command, cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def run_session(example: Example, tmp_path: Path) -> None:
    """Each `$ ` command of the session in one shell, against a fresh mock (and proxy); their output as shown."""
    commands = split_session(example.code)
    with ExitStack() as stack:
        args = mock_cli.parser().parse_args(example.args.split() if example.kind == "mock" else [])
        mock = stack.enter_context(LiveMock(config=mock_cli.config_from(args)))
        ports = {"8080": mock.url.rsplit(":", 1)[1]}
        if example.kind == "proxy":
            from jobsproxy.testing import LiveProxy

            proxy = stack.enter_context(LiveProxy(mock.url.replace("127.0.0.1", "localhost")))
            ports["8081"] = proxy.url.rsplit(":", 1)[1]
        script = []
        for number, (command, _) in enumerate(commands):
            for port, real in ports.items():
                command = command.replace(f":{port}", f":{real}")
            script += [f"echo '@@@ {number}'", command, 'echo "@@@ status $?"']
        (tmp_path / "session.sh").write_text("\n".join(script) + "\n", encoding="utf-8")
        done = subprocess.run(
            ["bash", "session.sh"], cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=300
        )
    printed = done.stdout
    for port, real in ports.items():
        printed = printed.replace(f":{real}", f":{port}")
    outputs = re.split(r"^@@@ \d+\n", printed, flags=re.MULTILINE)[1:]
    assert len(outputs) == len(commands), done.stdout + done.stderr
    for (command, expected), output in zip(commands, outputs, strict=True):
        text, status = output.rsplit("@@@ status ", 1)
        assert status.strip() == "0", f"$ {command}\nexited {status.strip()}:\n{text}{done.stderr}"
        assert matches(expected, text), f"$ {command}\nprinted:\n{text}\ndocumented:\n{expected}"


def split_session(code: str) -> list[tuple[str, str]]:
    """A console session's commands (continuation lines joined) and what each is documented to print."""
    commands: list[tuple[str, list[str]]] = []
    lines = code.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("$ "):
            command = [line[2:]]
            while command[-1].endswith("\\"):
                index += 1
                command.append(lines[index])
            commands.append(("\n".join(command), []))
        else:
            commands[-1][1].append(line)
        index += 1
    return [(command, "\n".join(output) + "\n" if output else "") for command, output in commands]


def normal(text: str) -> str:
    """Text as compared: no trailing blanks, timestamps and the Date and Server headers by shape only."""
    lines = [VOLATILE_HEADER.sub(r"\1: *", line.rstrip()) for line in text.splitlines()]
    return TIMESTAMP.sub("<time>", "\n".join(lines)) + "\n"


def matches(documented: str, printed: str) -> bool:
    """Whether the output is the documented one, `...` standing for any lines (alone) or any text (in a line)."""
    if not documented:
        return not printed.strip()  # a command documented as printing nothing (`TOKEN=$(...)`, `> /dev/null`)
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line == "..." else re.escape(line).replace(r"\.\.\.", r"[^\n]*?") + r"\n"
        for line in normal(documented).splitlines()
    )
    return re.fullmatch(pattern, normal(printed)) is not None


def _block(page: str, marker: str, language: str) -> Example:
    """The one fenced block of `page` in `language` whose code holds `marker`."""
    found = [
        example
        for example in ALL
        if isinstance(example, Example)
        and example.path == ROOT / "docs" / page
        and example.language == language
        and marker in example.code
    ]
    assert len(found) == 1, f"docs/{page}: {len(found)} {language} blocks with {marker!r}"
    return found[0]


def test_compose__the_mock_answers_the_name_the_proxy_reaches_it_by() -> None:
    """Issue 28, item 4: the compose file put the proxy in front of the mock by the name `jobs-api` without
    `--allowed-host jobs-api`, and the mock answered the proxy 403. The mock starts as the file says, and is asked
    with the Host header the proxy's `--upstream` gives."""
    services = yaml.safe_load(_block("guides/frontend.md", "services:", "yaml").code)["services"]
    proxy = services["jobs-proxy"]["command"]
    upstream = urlsplit(proxy[proxy.index("--upstream") + 1])
    command = services[upstream.hostname]["command"]
    assert command[0] == "jobs-mock"
    with LiveMock(config=mock_cli.config_from(mock_cli.parser().parse_args(command[1:]))) as mock:
        answer = requests.get(f"{mock.url}/@jobs", headers={"Host": upstream.netloc}, timeout=10)
    assert answer.status_code == 401, answer.text  # no token; not the Host rule's 403


STUB = '    raise NotImplementedError("your database, admin endpoint or management command")\n'


def test_deployment_guide__the_fixture_command_skeleton_holds_jobs_or_runs_them_as_the_suite_asks(
    tmp_path: Path,
) -> None:
    """Issue 28, item 4: the example `command:` fixture ignored JOBS_CONFORMANCE_OUTCOME. The guide's skeleton, its
    `make_job` made through the mock's control API, gives the suite every lifecycle cell and the worker's runs."""
    from conformance.cli import main  # the suite, imported only by this test

    skeleton = _block("guides/deployment.md", "JOBS_CONFORMANCE_OUTCOME", "python").code
    assert skeleton.count(STUB) == 1, "the skeleton's make_job changed: update STUB"
    with LiveMock() as mock:  # its clock running: its worker runs the jobs the skeleton asks it to
        made = (
            "    import json, urllib.request\n"
            f"    body = json.dumps({{'status': state, 'params': {{'mock': worker}}}}).encode()\n"
            f"    asked = urllib.request.Request('{mock.url}/__mock__/jobs', body, {{'Content-Type': 'application/json'}})\n"
            "    with urllib.request.urlopen(asked, timeout=10) as answer:\n"
            "        return json.load(answer)['uuid']\n"
        )
        (tmp_path / "make-job").write_text(skeleton.replace(STUB, made), encoding="utf-8")
        fixtures = f"command:{sys.executable} {tmp_path / 'make-job'}"
        report = tmp_path / "report.json"
        argv = ["--base-url", mock.url, "--fixtures", fixtures, "--phases", "lifecycle", "--timeout", "5", "-q"]
        code = main([*argv, "--report", str(report)])
    checks = json.loads(report.read_text())["checks"]
    assert code == 0, [check for check in checks if check["outcome"] != "passed"]
    assert [
        check for check in checks if check["name"] == "worker_follows_lifecycle" and check["outcome"] != "passed"
    ] == []
