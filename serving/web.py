"""The Starlette app mounted beside the BentoML APIs: the tumour-board page at ``/``, its
static files, ``GET /model``, the model card ``GET /model/card``, ``POST /admin/reload``
(BentoML APIs are POST only) and the CDS Hooks service (``serving.cds_hooks``)."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from serving import cds_hooks

STATIC_DIR = Path(__file__).resolve().parent / "static"
SERVICE = f"{cds_hooks.DISCOVERY_PATH}/{cds_hooks.SERVICE_ID}"


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


async def reload_champion(_: Request) -> Response:
    """``POST /admin/reload`` (a token needed, as on every route not public): take up the
    version ``@champion`` names now, without waiting for the next poll."""
    import asyncio

    import bentoml

    done = await asyncio.to_thread(bentoml.get_current_service().live.refresh)
    answer = {
        "serving": done.serving,
        "previous": done.previous,
        "aliased": done.aliased,
        "changed": done.changed,
    }
    if done.error is not None:
        answer["error"] = (
            f"the version under the alias could not be loaded; version {done.serving} "
            f"serves on ({done.error})"
        )
        return JSONResponse(answer, status_code=503, headers={"retry-after": "30"})
    return JSONResponse(answer)


def create_web_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/model", model_info, methods=["GET"]),
            Route("/model/card", model_card, methods=["GET"]),
            Route("/admin/reload", reload_champion, methods=["POST"]),
            Route(cds_hooks.DISCOVERY_PATH, cds_hooks.discovery, methods=["GET"]),
            Route(SERVICE, cds_hooks.call_service, methods=["POST"]),
            Route(f"{SERVICE}/feedback", cds_hooks.feedback, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )
