"""The lifecycle where a user looks: at the top of /docs, and in the live view with each state's count."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from mockserver.testing import LiveMock
from tests.test_browser import (  # noqa: F401  (the browser fixtures)
    MISSING,
    REQUIRED,
    allowed_site,
    artifacts,
    browser,
    browser_mock,
    mock,
    page,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [
    pytest.mark.skipif(MISSING is not None and not REQUIRED, reason=f"browser tests skipped: {MISSING}"),
    pytest.mark.skipif(shutil.which("dot") is None and not REQUIRED, reason="Graphviz's dot is not installed"),
]


def test_the_mock_serves_its_spec_lifecycle_as_svg(mock: LiveMock) -> None:  # noqa: F811
    answer = requests.get(f"{mock.url}/docs/lifecycle.svg", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("image/svg+xml")
    svg = ET.fromstring(answer.text)
    titles = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")}
    assert set(mock.state.spec.lifecycle.states) <= titles
    described = requests.get(f"{mock.url}/docs/openapi.json", timeout=10).json()["info"]["description"]
    assert f"]({mock.url}/docs/lifecycle.svg)" in described


def test_docs_show_the_lifecycle_diagram(mock: LiveMock, page: Page, artifacts: Path) -> None:  # noqa: F811
    page.goto(f"{mock.url}/docs")
    image = page.locator("img[alt='The job lifecycle']")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=image.element_handle())
    page.screenshot(path=artifacts / "docs-lifecycle.png")


def test_live_view_counts_the_jobs_in_each_state_on_the_diagram(
    mock: LiveMock,  # noqa: F811
    page: Page,  # noqa: F811
    artifacts: Path,  # noqa: F811
) -> None:
    lifecycle = mock.state.spec.lifecycle
    jobs = mock.control("GET", "jobs")
    counts = Counter(job[lifecycle.status_field] for job in jobs)
    page.goto(f"{mock.url}/__mock__/")
    page.wait_for_selector("#diagram g.node[data-count]")
    for state in lifecycle.states:
        node = page.locator("#diagram g.node", has=page.locator(f"title:text-is('{state}')"))
        assert node.get_attribute("data-count") == str(counts[state])
        assert node.locator("text").first.text_content() == f"{state} · {counts[state]}"
    page.screenshot(path=artifacts / "live-view-diagram.png", full_page=True)
