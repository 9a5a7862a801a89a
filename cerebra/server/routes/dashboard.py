"""The web dashboard (issue 13): GET /dashboard serves the single-page app's HTML and
/dashboard/static/{path} its CSS and ES modules, straight from the package's files
(cerebra/server/dashboard/static). Public: the page holds no data; every number it shows
comes from the API with the signed-in user's credentials. An unknown file is a JSON 404."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from cerebra.errors import NotFound
from cerebra.server.auth import public

STATIC = Path(__file__).resolve().parent.parent / "dashboard" / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
# assets revalidate on every load (a new release is seen at once; the HTML stays no-store)
_REVALIDATE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["dashboard"], dependencies=[Depends(public)],
                   include_in_schema=False)


def static_file(relative: str) -> Path:
    """The file under STATIC named by `relative`; NotFound for anything else (unknown
    names, directories, other types, or a path that leaves the folder)."""
    root = STATIC
    target = (root / relative).resolve()
    if (not target.is_relative_to(root) or not target.is_file()
            or target.suffix not in _TYPES):
        raise NotFound(f"no dashboard file {relative!r}", field="path")
    return target


@router.get("/dashboard")
@router.get("/dashboard/")
def dashboard() -> FileResponse:
    """The app's page; its routes are the URL's fragment (#/query, #/memory, …)."""
    return FileResponse(static_file("index.html"), media_type=_TYPES[".html"])


@router.get("/dashboard/static/{path:path}")
def asset(path: Annotated[str, PathParam(max_length=200)]) -> FileResponse:
    found = static_file(path)
    return FileResponse(found, media_type=_TYPES[found.suffix], headers=_REVALIDATE)
