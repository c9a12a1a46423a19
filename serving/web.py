"""The Starlette app mounted beside the BentoML APIs: the tumour-board page at ``/``, its
static files, ``GET /model`` and the model card ``GET /model/card`` (BentoML APIs are POST
only)."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"


async def index(_: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})


async def model_info(_: Request) -> Response:
    import bentoml

    info = bentoml.get_current_service().model_info()
    return JSONResponse(info.model_dump(mode="json"))


async def model_card(_: Request) -> Response:
    """The champion's model card: public like the page (it holds no patient data, and a
    reviewer of a recommendation must be able to read its basis)."""
    import bentoml

    card = bentoml.get_current_service().champion.card
    if card is None:
        return JSONResponse(
            {
                "error": "the champion has no model card: it was trained before cards "
                "existed; retrain it with `il2select train`"
            },
            status_code=404,
        )
    return HTMLResponse(card, headers={"cache-control": "no-cache"})


def create_web_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/model", model_info, methods=["GET"]),
            Route("/model/card", model_card, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )
