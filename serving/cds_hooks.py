"""CDS Hooks 2.0: IL2Select as a CDS service on the ``patient-view`` hook.

``GET /cds-services`` (discovery, public: it holds no patient data),
``POST /cds-services/il2select-first-line`` (the recommendation as a card, from the
prefetched FHIR resources) and ``POST …/feedback`` (accepted or overridden, into the audit
log beside the answer). The guard (``serving.guard``) authenticates the calls (the
client's JWT, ``serving.cds_auth``, or a REST token) and bounds their bodies; ``CdsCors``
lets browser-based clients call them. An answer is computed by the same path as
``/recommend`` (its micro-batcher, the same champion) and committed to the audit log,
with the FHIR resources it was read from, before the response starts.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from model.recommend.answer import SCOPE
from model.settings import get_settings
from serving.audit import AuditUnavailable, audit_note
from serving.cds_cards import incomplete_record_card, recommendation_card, source_of
from serving.cds_feedback import feedback_items
from serving.cds_prefetch import HOOK, PREFETCH, HookProblem, hook_request, prefetched_resources
from serving.delivery import AUDIT_HEADER, AUDIT_REQUEST
from serving.problems import RequestProblem, check_patient, operation_outcome

SERVICE_ID = "il2select-first-line"
DISCOVERY_PATH = "/cds-services"
ENDPOINT = "cds-hooks"  # the audit log's endpoint of a CDS answer
RETRY_AFTER_S = "5"


def discovery_document() -> dict:
    return {
        "services": [
            {
                "hook": HOOK,
                "id": SERVICE_ID,
                "title": "IL2Select: HD IL-2 or a VEGF-TKI first",
                "description": "First-line strategy in metastatic renal cell carcinoma: HD "
                "IL-2 first or a VEGF-TKI first, with both strategies' probabilities of "
                "response, cure and severe toxicity, IL-2 eligibility and the Manchester "
                "pathway. " + SCOPE,
                "prefetch": PREFETCH,
                "usageRequirements": "Every prefetch key is required (null when there is "
                "no data); the service reads nothing from the FHIR server itself.",
            }
        ]
    }


async def discovery(_: Request) -> Response:
    return JSONResponse(discovery_document())


async def call_service(request: Request) -> Response:
    """The recommendation card of the patient in context (412 when a prefetch key is
    missing; a card saying what is missing when the record lacks required inputs)."""
    import bentoml

    try:
        call = hook_request(await request.body())
        resources = prefetched_resources(call)
    except HookProblem as problem:
        return JSONResponse(problem.outcome, status_code=problem.status)
    from model.contract.fhir import patient_from_resources  # fhir.resources: when needed

    try:
        mapped = patient_from_resources(resources)
    except ValueError as exc:  # the contract's domain errors
        return JSONResponse(operation_outcome("invalid", str(exc)), status_code=400)
    service = bentoml.get_current_service()
    request_id = uuid.uuid4().hex
    card_uuid = str(uuid.UUID(request_id))  # one card per call: its uuid names the request
    card, values, version = await _card(service, mapped, card_uuid)
    note = _sources_note(call, mapped)
    return await _answered(request, service, request_id, values, version, card, note)


async def _card(service: Any, mapped: Any, card_uuid: str) -> tuple[dict, dict, str | None]:
    """The card, the contract-form input it answers and the model version that computed
    it: ``/recommend``'s answer (its micro-batcher, so the same numbers), or, when the
    record lacks a required input, the card that says what is missing (no model ran)."""
    try:
        patient = check_patient(orjson.dumps(mapped.values))  # exactly /recommend's checks
    except RequestProblem as refused:
        problems = [(e.field, e.rule) for e in refused.problem.detail]
        source = source_of(service.champion.provenance.model_dump(), _card_url(service))
        return (
            incomplete_record_card(problems, mapped.unknown, card_uuid, source),
            mapped.values,
            None,
        )
    values = patient.model_dump()
    body, version = await service.recommendations.submit(values)
    answer = orjson.loads(body)
    source = source_of(answer["provenance"], _card_url(service))
    links = [{"label": "Model card", "url": source["url"], "type": "absolute"}]
    return recommendation_card(answer, mapped.unknown, card_uuid, source, links), values, version


async def feedback(request: Request) -> Response:
    """Each card's outcome, into the audit log beside the answer the card showed."""
    import bentoml

    try:
        items = feedback_items(await request.body())
    except HookProblem as problem:
        return JSONResponse(problem.outcome, status_code=problem.status)
    service = bentoml.get_current_service()
    answers = [uuid.UUID(item["card"]).hex for item in items]  # a card's uuid: its request
    try:
        known = await asyncio.to_thread(service.answered.answered, sorted(set(answers)), ENDPOINT)
    except AuditUnavailable:
        return _unavailable()
    if unknown := [i for i, answer in enumerate(answers) if answer not in known]:
        where = [f"feedback[{i}].card" for i in unknown]
        problem = HookProblem(
            404,
            "not-found",
            f"{', '.join(where)}: no card with this uuid was answered by this service "
            f"({', '.join(repr(items[i]['card']) for i in unknown)}); nothing was recorded",
            where,
        )
        return JSONResponse(problem.outcome, status_code=problem.status)
    token_id = request.state.token_id
    notes = tuple(
        audit_note(uuid.UUID(item["card"]).hex, "cds_feedback", token_id, item) for item in items
    )
    try:
        await service.audit.append([], notes)
    except AuditUnavailable:
        return _unavailable()
    return JSONResponse({"recorded": len(items)})


async def _answered(
    request: Request, service: Any, request_id: str, values: dict, version, card, note
) -> Response:
    """Commit the answer (the cards as sent) and the resources it came from, then send it
    (``serving.service``'s ``_delivered``, for a Starlette route)."""
    body = orjson.dumps({"cards": [card]})
    token_id = request.state.token_id
    record = service.audit.record(request_id, ENDPOINT, token_id, version, values, body)
    setattr(request.state, AUDIT_REQUEST, (service.audit, request_id))
    try:
        await service.audit.append(
            [record], (audit_note(request_id, "fhir_sources", token_id, note),)
        )
    except AuditUnavailable:
        delattr(request.state, AUDIT_REQUEST)
        return _unavailable()
    return Response(body, media_type="application/json", headers={AUDIT_HEADER: request_id})


def _sources_note(call: dict, mapped: Any) -> dict:
    return {
        "hookInstance": call["hookInstance"],
        "patientId": call["context"]["patientId"],
        "resources": mapped.used,
        "unknown": mapped.unknown,
        "invalid": mapped.invalid,
    }


def _card_url(service: Any) -> str:
    """The model card when the champion has one, else ``GET /model`` (its provenance)."""
    base = get_settings().public_url.rstrip("/")
    return f"{base}/model/card" if service.champion.card is not None else f"{base}/model"


def _unavailable() -> Response:
    outcome = operation_outcome(
        "transient", "the audit log cannot record answers now; nothing was answered: retry later"
    )
    return JSONResponse(outcome, status_code=503, headers={"retry-after": RETRY_AFTER_S})


class CdsCors:
    """CORS on the CDS Hooks routes (browser-based EHR clients call them): a preflight is
    answered here, outside the guard (it carries no credentials), and every answer,
    refusals included, carries the headers. Origins: ``IL2SELECT_CDS_CORS_ORIGINS``;
    calls authenticate by a header, never a cookie, so no credentials are allowed."""

    def __init__(self, app, origins: list[str] | None = None) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins if origins is not None else get_settings().cds_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            expose_headers=[AUDIT_HEADER],
            max_age=600,
        )

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == DISCOVERY_PATH or path.startswith(DISCOVERY_PATH + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
