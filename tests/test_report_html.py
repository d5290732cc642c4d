"""The suite's reports draw the lifecycle coloured by verdict: Markdown (Mermaid) and a one-file HTML page.

The HTML report of a run against a broken server opens in headless Chromium, shows the diagram with
the broken transition in the failed colour, and a screenshot of it is kept in docs/.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conformance.cli import main
from jobspec import diagram
from tests.fakejobs import Violation, serve
from tests.test_browser import MISSING, REQUIRED, artifacts, browser, page  # noqa: F401  (the browser fixtures)

if TYPE_CHECKING:
    from playwright.sync_api import Page

RUN = ["--fixtures", "mock", "--phases", "lifecycle", "--timeout", "2", "-q"]


@pytest.fixture(scope="module")
def broken_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The HTML and Markdown reports of a run against a server whose retry keeps the old timestamps."""
    where = tmp_path_factory.mktemp("reports")
    html, markdown = where / "report.html", where / "report.md"
    with serve(Violation.RETRY_NO_RESET) as server:
        code = main(["--base-url", server.url, *RUN, "--html", str(html), "--markdown", str(markdown)])
    assert code == 1
    return html, markdown


def test_markdown_report__colours_the_broken_transition(broken_reports: tuple[Path, Path]) -> None:
    text = broken_reports[1].read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert block is not None
    arrows = [line for line in block.group(1).splitlines() if "-->|" in line or "-.->|" in line]
    colours = dict(re.findall(r"linkStyle (\d+) stroke:(#[0-9a-f]{6})", block.group(1)))
    retry = next(i for i, arrow in enumerate(arrows, start=1) if '"retryJob → 204"' in arrow)
    assert colours[str(retry)] == diagram.COLOURS["failed"]
    assert diagram.COLOURS["passed"] in colours.values()


def test_html_report__is_one_file_with_the_coloured_diagram(broken_reports: tuple[Path, Path]) -> None:
    text = broken_reports[0].read_text(encoding="utf-8")
    assert "<script" not in text and "http://" not in text.split("<svg", 1)[0].split("<title>")[0]
    assert "<svg" in text and "NOT CONFORMANT" in text
    assert diagram.COLOURS["failed"] in text.split("<svg", 1)[1]


@pytest.mark.skipif(MISSING is not None and not REQUIRED, reason=f"browser tests skipped: {MISSING}")
@pytest.mark.skipif(shutil.which("dot") is None and not REQUIRED, reason="Graphviz's dot is not installed")
def test_html_report__opens_in_chromium_with_the_failed_edge_in_red(
    broken_reports: tuple[Path, Path],
    page: Page,  # noqa: F811
    artifacts: Path,  # noqa: F811
) -> None:
    """The screenshot lands in the artifacts (docs/conformance-report.png is one of them, committed)."""
    page.goto(broken_reports[0].as_uri())
    assert "NOT CONFORMANT" in page.locator(".verdict").inner_text()
    edges = page.locator(".diagram svg g.edge")
    assert edges.count() > 0
    red = [edges.nth(i) for i in range(edges.count()) if diagram.COLOURS["failed"] in (edges.nth(i).inner_html())]
    assert red and "retryJob → 204" in (red[0].text_content() or "")
    screenshot = artifacts / "conformance-report.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 10_000
