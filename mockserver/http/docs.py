"""Interactive API docs at /docs: Swagger UI from an installed package, no network needed."""

from __future__ import annotations

import json
import mimetypes
from importlib import resources
from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from jobspec import Lifecycle, diagram
from mockserver.domain.documents import dump
from mockserver.domain.errors import NotFound
from mockserver.http.answers import Through, base_url, json_response
from mockserver.http.context import STATE

LIFECYCLE_SVG = "/docs/lifecycle.svg"


class Picture:
    """The lifecycle diagram, drawn on first use (Graphviz takes a moment) and kept; None if it cannot be."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.problem = ""
        self._svg: str | None = None
        self._drawn = False

    def svg(self) -> str | None:
        """The SVG, or None (with `problem` saying why) when Graphviz is missing or fails."""
        if not self._drawn:
            self._drawn = True
            try:
                self._svg = diagram.svg(self.lifecycle)
            except Exception as exc:  # Graphviz's dot missing or failing: the docs work without the picture
                self.problem = f"{type(exc).__name__}: {exc}"
        return self._svg


def swagger_ui_dir() -> Path | None:
    """Where the installed Swagger UI 5 files are (swagger-ui-bundle-v2's folder), or None if they are not there."""
    path = Path(str(swagger_ui_path))
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def add_routes(app: web.Application, through: Through) -> None:
    """Mount /docs, its spec (servers pointing at this mock) and its assets (each called `through` the pipeline)."""
    assets = swagger_ui_dir()
    document = json.loads(dump(app[STATE].spec.raw))  # a copy as loaded, whatever happens to the shared spec later
    picture = Picture(app[STATE].spec.lifecycle)

    async def serve_spec(request: web.Request) -> web.StreamResponse:
        """The spec with its server set to the address this request came to, so "try it out" reaches the mock.

        Its description ends with the lifecycle diagram, which Swagger UI shows at the top of /docs.
        """
        served = {**document, "servers": [{"url": base_url(request), "description": "this jobs-mock"}]}
        if picture.svg() is not None:
            info = dict(served.get("info", {}))
            figure = f"![The job lifecycle]({base_url(request)}{LIFECYCLE_SVG})"
            info["description"] = (
                f"{info.get('description', '')}\n\n**The job lifecycle** (x-job-lifecycle):\n\n{figure}\n"
            )
            served["info"] = info
        return json_response(dump(served))

    async def serve_lifecycle(request: web.Request) -> web.StreamResponse:
        """The served spec's lifecycle as an SVG state diagram (drawn once, by Graphviz)."""
        svg = picture.svg()
        if svg is None:
            raise NotFound(f"The lifecycle diagram cannot be drawn here: {picture.problem}")
        return web.Response(text=svg, content_type="image/svg+xml")

    app.router.add_get("/docs", through(serve_page))
    app.router.add_get("/docs/openapi.json", through(serve_spec))
    app.router.add_get(LIFECYCLE_SVG, through(serve_lifecycle))
    if assets is not None:
        files = Assets(assets)
        app.router.add_get("/docs/assets/{name}", through(files.serve))
        app.router.add_get("/favicon.ico", through(files.favicon))


async def serve_page(request: web.Request) -> web.StreamResponse:
    """The Swagger UI page."""
    page = resources.files("mockserver.http").joinpath("static/docs.html").read_text(encoding="utf-8")
    return web.Response(text=page, content_type="text/html")


class Assets:
    """Swagger UI's files, each answered whole in one body; only the names of the folder's own files can be asked for.

    Not aiohttp's static route nor its `FileResponse`: those hand the file to `loop.sendfile`, which
    takes only the event loop's own transports, and a connection served through `httpserving`
    holds a `Loan` of one (so that a reload can hand it over). An `ETag` lets a browser keep what
    it fetched (a 304 for what it has).
    """

    def __init__(self, folder: Path) -> None:
        self.files = {path.name: path for path in folder.iterdir() if path.is_file()}

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """The asset the path names, or Nick's 404."""
        path = self.files.get(request.match_info["name"])
        if path is None:
            raise NotFound(f"No such asset: {request.match_info['name']}")
        return self.answer(request, path)

    async def favicon(self, request: web.Request) -> web.StreamResponse:
        """Swagger UI's icon, so browsers stop asking."""
        return self.answer(request, self.files["favicon-32x32.png"])

    @staticmethod
    def answer(request: web.Request, path: Path) -> web.StreamResponse:
        status = path.stat()
        tag = f'"{status.st_mtime_ns:x}-{status.st_size:x}"'
        headers = {"ETag": tag, "Cache-Control": "no-cache"}  # kept, and asked again with its tag each time
        if tag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return web.Response(body=path.read_bytes(), content_type=kind, headers=headers)
