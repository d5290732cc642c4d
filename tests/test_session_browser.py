"""Four headless Chromium contexts in parallel, each in its own session, fighting over the same job ids."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import requests

from mockserver.config import MockConfig
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, MISSING, pytestmark  # noqa: F401 - the same skip rule

RUNNING, FAILED = "0b8e5d1c-7a24-4f63-8c9e-1d2f3a4b5c6d", "9e4f2b6a-5c8d-4a1e-b3f7-0d9c8b7a6e5f"
ROUNDS, CONTEXTS = 20, 4
ENDED = ("completed", "failed")

# One round for one context: back to the starting data, its role's conflicting moves, then what it sees.
SCENARIO = """async ({role, token, ids}) => {
  const headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"};
  const call = (method, path, body) => fetch(path, {method, headers, body: body && JSON.stringify(body)});
  const [running, failed, created] = ids;
  if ((await call("POST", "/__mock__/reset", {})).status !== 204) return {error: "reset"};
  const moves = [];
  if (role === "abort") moves.push((await call("POST", `/@jobs/${running}/abort`)).status);
  if (role === "delete") moves.push((await call("DELETE", `/@jobs/${running}`)).status);
  if (role === "retry") moves.push((await call("POST", `/@jobs/${failed}/retry`)).status);
  if (role === "fault") {
    await call("POST", "/__mock__/faults", {operation: "retryJob", status: 503});
    moves.push((await call("POST", `/@jobs/${failed}/retry`)).status);
    moves.push((await call("POST", "/__mock__/clock/advance", {seconds: 86400})).status);
  }
  await new Promise(resolve => setTimeout(resolve, 5));  // let the other contexts' moves land meanwhile
  const seen = {};
  for (const [name, id] of [["running", running], ["failed", failed], ["created", created]]) {
    const answer = await call("GET", `/@jobs/${id}`);
    seen[name] = answer.status === 200 ? (await answer.json()).status : answer.status;
  }
  const journal = await (await call("GET", "/__mock__/journal")).json();
  seen.moves = moves;
  seen.journaled = journal.filter(entry => entry.operationId).length;
  return seen;
}"""

EXPECTED: dict[str, dict[str, Any]] = {
    "abort": {"running": "aborted", "failed": "failed", "created": "created", "moves": [204]},
    "delete": {"running": 404, "failed": "failed", "created": "created", "moves": [204]},
    "retry": {"running": "running", "failed": "created", "created": "created", "moves": [204]},
    "fault": {"running": ENDED, "failed": "failed", "created": ENDED, "moves": [503, 200]},
}


def _matches(seen: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(
        seen[key] in value if isinstance(value, tuple) else seen[key] == value for key, value in expected.items()
    )


async def _run(url: str, token: str) -> float:
    from playwright.async_api import async_playwright

    roles = list(EXPECTED)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        pages = []
        for index in range(CONTEXTS):
            context = await browser.new_context(extra_http_headers={"X-Mock-Session": f"chromium-{index}"})
            page = await context.new_page()
            await page.goto(f"{url}/docs/openapi.json")  # any page of the mock: its fetches are then same-origin
            pages.append(page)
        started = time.monotonic()
        for round_ in range(ROUNDS):
            mine = [roles[(index + round_) % len(roles)] for index in range(CONTEXTS)]
            ids = [RUNNING, FAILED, DOCUMENTED_ID]
            seen = await asyncio.gather(
                *(
                    page.evaluate(SCENARIO, {"role": role, "token": token, "ids": ids})
                    for page, role in zip(pages, mine, strict=True)
                )
            )
            for index, (role, view) in enumerate(zip(mine, seen, strict=True)):
                assert _matches(view, EXPECTED[role]), f"round {round_}, context {index} ({role}): {view}"
                assert view["journaled"] == 3 + len(view["moves"]) - (role == "fault"), view  # only its own requests
        took = time.monotonic() - started
        await browser.close()
    return took


def test_four_contexts_in_parallel_each_see_only_their_own_changes() -> None:
    with LiveMock(config=MockConfig(frozen=True)) as mock:
        token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}, timeout=10).json()
        took = asyncio.run(asyncio.wait_for(_run(mock.url, token["token"]), timeout=240))
        listed = mock.control("GET", "sessions")["sessions"]
        assert sorted(s["name"] for s in listed) == [f"chromium-{index}" for index in range(CONTEXTS)]
        assert len(mock.control("GET", "jobs")) == 7 and mock.errors() == []  # the shared state untouched
    print(f"{ROUNDS} rounds x {CONTEXTS} contexts in {took:.1f} s")
    assert took < 120
