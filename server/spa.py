"""Serving the built React client (``client/dist``) at ``/``, next to /graphql and /api.

A GET for a file that exists under the dist directory gets that file (hashed
assets are cached for a year, ``index.html`` never); any other GET outside
the API's own paths gets ``index.html``, so the client's router handles deep
links like ``/customers/001...`` on reload.  Nothing is served when
``index.html`` is absent.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

API_PREFIXES = ("/graphql", "/api/", "/api", "/healthz", "/readyz", "/metrics")


def spa_routes(dist: Path) -> list[Route]:
    dist = dist.resolve()
    index = dist / "index.html"
    if not index.is_file():
        return []

    async def serve(request: Request) -> Response:
        path = request.url.path
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in API_PREFIXES):
            return JSONResponse({"errors": [{"message": f"no route {path}"}]}, status_code=404)
        rel = path.lstrip("/")
        if rel:
            candidate = (dist / rel).resolve()
            if candidate.is_file() and candidate.is_relative_to(dist):
                immutable = candidate.parent.name == "assets"
                headers = {"Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache"}
                return FileResponse(candidate, headers=headers)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return [Route("/", serve, methods=["GET", "HEAD"]), Route("/{path:path}", serve, methods=["GET", "HEAD"])]
