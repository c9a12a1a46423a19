"""The Starlette app mounted beside the BentoML APIs: the tumour-board page at ``/``, its
static files, and ``GET /model`` (BentoML APIs are POST only)."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"


async def index(_: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})


async def model_info(_: Request) -> Response:
    import bentoml

    info = bentoml.get_current_service().model_info()
    return JSONResponse(info.model_dump(mode="json"))


def create_web_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/model", model_info, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )
