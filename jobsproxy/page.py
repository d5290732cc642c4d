"""The proxy's own paths, under /__proxy__/ (where no API path of Nick's lives): the live page and its JSON."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from aiohttp import web

from jobsproxy.journal import NOTE, VIOLATION
from jobsproxy.report import report_json

PREFIX = "/__proxy__"


def add_routes(app: web.Application, key: web.AppKey[Any]) -> None:
    """The live page, `violations`, `journal`, `summary` and `report`; any other path under the prefix is a 404."""
    html = resources.files("jobsproxy").joinpath("static/proxy.html").read_text(encoding="utf-8")

    async def live(request: web.Request) -> web.StreamResponse:
        return web.Response(text=html, content_type="text/html")

    async def violations(request: web.Request) -> web.StreamResponse:
        return web.json_response(app[key].journal.since(_since(request), VIOLATION))

    async def journal(request: web.Request) -> web.StreamResponse:
        return web.json_response(app[key].journal.since(_since(request)))

    async def summary(request: web.Request) -> web.StreamResponse:
        report = app[key].report()
        shown = {k: v for k, v in json.loads(report_json(report)).items() if k not in ("checks", "violations", "notes")}
        counts = {"violations": app[key].journal.count(VIOLATION), "notes": app[key].journal.count(NOTE)}
        return web.json_response({**shown, **counts})

    async def report(request: web.Request) -> web.StreamResponse:
        return web.Response(text=report_json(app[key].report()), content_type="application/json")

    async def unknown(request: web.Request) -> web.StreamResponse:
        known = ", ".join(f"{PREFIX}/{name}" for name in ("", "violations", "journal", "summary", "report"))
        return web.json_response({"message": f"jobs-proxy has no {request.path}; it has {known}"}, status=404)

    async def canonical(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{PREFIX}/")

    app.router.add_get(PREFIX, canonical)
    app.router.add_get(f"{PREFIX}/", live)
    app.router.add_get(f"{PREFIX}/violations", violations)
    app.router.add_get(f"{PREFIX}/journal", journal)
    app.router.add_get(f"{PREFIX}/summary", summary)
    app.router.add_get(f"{PREFIX}/report", report)
    app.router.add_route("*", PREFIX + "/{tail:[\\s\\S]*}", unknown)  # %0A decodes to a line break


def _since(request: web.Request) -> int:
    try:
        return max(0, int(request.query.get("since", "0")))
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"message": "since must be a whole number (an entry's seq)"}),
            content_type="application/json",
        ) from None
