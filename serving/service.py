"""The BentoML service: thin API methods over ``serving.answers``.

Start-up loads ``models:/il2select@champion`` (a clear error if there is none), opens the
audit log and refuses to run without configured tokens. Every answer is committed to the
audit log before its response is sent.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import bentoml
from prometheus_client import Histogram
from starlette.responses import JSONResponse, Response

from model.contract.errors import ContractError
from model.recommend.answer import PatientAnswer, SurvivalCurves
from model.settings import get_settings
from serving.audit import AuditLog, AuditUnavailable, audit_note, audit_store
from serving.audit_lookup import AnsweredLookup
from serving.auth import TokenConfigError, load_tokens
from serving.batching import MicroBatcher
from serving.cds_auth import CdsClients
from serving.cds_hooks import CdsCors
from serving.connections import ConnectionLimits, install_connection_limits
from serving.delivery import AUDIT_HEADER, AUDIT_REQUEST
from serving.gctune import freeze_permanent_objects, watch_gc_pauses
from serving.guard import FHIR_SOURCES, GuardMiddleware
from serving.listener import listen_on_own_socket
from serving.logs import redact_request_values
from serving.overrides import install_bentoml_overrides
from serving.schemas import (
    FieldError,
    ModelInfo,
    PatientRequest,
    PatientRows,
    PredictRow,
    Problem,
    TriageRow,
)
from serving.web import create_web_app

if TYPE_CHECKING:  # mlflow and pandas load in the worker, not in BentoML's supervisor
    from serving.champion import Champion

JSON = "application/json"
# prometheus_client directly (bentoml.metrics is deprecated); BentoML's /metrics collects it
RECOMMEND_BATCH_SIZE = Histogram(
    "recommend_batch_size",
    "Concurrent /recommend patients computed together (serving/batching.py)",
    buckets=(1, 2, 4, 8, 16, 32),
)
WARM_UP_S = 5.0
RETRY_AFTER_S = 5  # seconds a client is asked to wait when the audit store is down
CHECKED_BODY_METHODS = ("recommend", "survival", "predict", "triage")


@bentoml.service(
    name="il2select",
    workers=1,
    traffic={"timeout": 60},
    logging={"access": {"enabled": False}},
    metrics={"enabled": True, "namespace": "il2select"},
    # no trace exporter is configured: skip the OpenTelemetry middleware on every path
    # (it cost ~15 % of the event loop per request)
    tracing={"excluded_urls": [".*"]},
)
class IL2Select:
    """HD IL-2 first or a TKI first: the tumour board's REST API."""

    def __init__(self) -> None:
        settings = get_settings()
        if not load_tokens(settings.tokens, settings.tokens_path):
            raise TokenConfigError(
                "no bearer tokens configured (IL2SELECT_TOKENS or IL2SELECT_TOKENS_FILE): "
                "the service does not run open; `il2select serve` creates one on loopback"
            )
        # pandas, pandera and mlflow load here, in the worker, not when BentoML's supervisor
        # imports this module to read the service's configuration (cold start)
        from model.runtime import use_single_threaded_blas
        from serving import answers
        from serving.champion import load_champion
        from serving.live_champion import LiveChampion

        use_single_threaded_blas()  # see model/runtime.py: BLAS threads slow small products
        CdsClients.from_settings(settings)  # a trusted issuer's unusable JWK Set: a clear stop
        self.answers = answers
        redact_request_values()
        install_bentoml_overrides(IL2Select, CHECKED_BODY_METHODS)
        install_connection_limits(
            ConnectionLimits(
                settings.max_header_bytes,
                settings.header_timeout_s,
                settings.body_timeout_s,
                settings.max_connections,
            )
        )
        self.answered = AnsweredLookup(settings.audit_url, settings.audit_path)  # CDS feedback
        self.live = LiveChampion(settings, load_champion(settings))
        self.champion_poll_s = settings.champion_poll_s
        champion = self.live.current
        store = audit_store(settings.audit_url, settings.audit_path, settings.audit_synchronous)
        self.audit = AuditLog(store).start(
            dictionary=answers.audit_dictionary(champion.recommender, champion.provenance)
        )
        self.recommendations = MicroBatcher(
            self._recommend_batch, observe=RECOMMEND_BATCH_SIZE.observe
        )
        freeze_permanent_objects()  # the p99 stall: see serving/gctune.py
        watch_gc_pauses()
        listen_on_own_socket()  # last: connections come once this worker can answer them

    @bentoml.on_startup
    async def freeze_after_warm_up(self) -> None:
        """Objects made while the app finishes starting and serves its first requests are
        permanent too: freeze them a few seconds after start-up."""
        import asyncio

        asyncio.get_running_loop().call_later(WARM_UP_S, freeze_permanent_objects, False)

    @bentoml.on_startup
    async def warm_up_fhir(self) -> None:
        """Build the FHIR models in a thread now: the first CDS Hooks call or FHIR Bundle
        would otherwise wait about a second for them (``serving.fhir_input.warm_up``)."""
        from serving.fhir_input import warm_up

        self._fhir_warm_up = asyncio.get_running_loop().run_in_executor(None, warm_up)

    @bentoml.on_startup
    async def follow_the_champion(self) -> None:
        """Every ``IL2SELECT_CHAMPION_POLL_S`` seconds (0: never), take up the version the
        alias names (``serving.live_champion``); loads run in a thread."""
        if self.champion_poll_s > 0:
            self._poll = asyncio.get_running_loop().create_task(self._poll_forever())

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.champion_poll_s)
            await asyncio.to_thread(self.live.refresh)

    @property
    def champion(self) -> Champion:
        """The champion now (a request takes it once and keeps it: see ``LiveChampion``)."""
        return self.live.current

    @bentoml.on_shutdown
    def close_audit(self) -> None:
        self.audit.close()

    def __is_ready__(self) -> bool:
        """Ready with a champion and an audit store that takes records (while it does not,
        each readiness check probes it, so readiness comes back by itself)."""
        audit = self.audit
        return self.champion is not None and ((audit.healthy and audit.intact()) or audit.probe())

    def model_info(self) -> ModelInfo:
        champion = self.champion
        return ModelInfo(
            provenance=champion.provenance,
            metrics=champion.metrics,
            tracking_uri=champion.tracking_uri,
        )

    @bentoml.api(route="/recommend")
    async def recommend(self, patient: PatientRequest, /, ctx: bentoml.Context) -> PatientAnswer:
        """One patient: both strategies' outlook, eligibility, pathway, the recommendation
        with its reasons and provenance. Audited before the response is sent."""
        values = patient.model_dump()
        # with concurrent requests' patients, by the champion of the batch
        body, version = await self.recommendations.submit(values)
        request_id = uuid.uuid4().hex
        record = self._record(ctx, request_id, "recommend", values, body, version)
        return await self._delivered(ctx, request_id, [record], Response(body, media_type=JSON))

    def _recommend_batch(self, patients: list[dict]) -> list[tuple[bytes, str]]:
        champion = self.champion
        version = champion.provenance.model_version
        bodies = self.answers.recommend_patients(
            champion.recommender, patients, champion.provenance
        )
        return [(body, version) for body in bodies]

    @bentoml.api(route="/survival")
    async def survival(self, patient: PatientRequest, /, ctx: bentoml.Context) -> SurvivalCurves:
        """Both strategies' overall and progression-free survival on a monthly grid."""
        values = patient.model_dump()
        champion = self.champion
        curves = self.answers.survival_curves(champion.recommender, values)
        body = curves.model_dump_json().encode()
        request_id = uuid.uuid4().hex
        version = champion.provenance.model_version
        record = self._record(ctx, request_id, "survival", values, body, version)
        return await self._delivered(ctx, request_id, [record], Response(body, media_type=JSON))

    @bentoml.api(route="/predict")
    async def predict(self, patients: PatientRows, /, ctx: bentoml.Context) -> list[PredictRow]:
        """A list of patients, order kept; bad rows come back with their errors."""
        request_id = uuid.uuid4().hex
        try:  # computed (and its records compressed) off the event loop
            parts, records = await asyncio.to_thread(self._predicted, ctx, request_id, patients)
        except ContractError as exc:
            return _unprocessable(ctx, exc)
        return await self._delivered(ctx, request_id, records, self.answers.json_response(parts))

    def _predicted(self, ctx: bentoml.Context, request_id: str, patients: list[dict]):
        champion = self.champion  # one champion for the whole list
        version = champion.provenance.model_version
        chunks = self.answers.predict_parts(champion.recommender, patients, champion.provenance)
        parts, records = [], []
        for texts, answered in chunks:
            parts += texts
            records += [
                self._record(ctx, request_id, "predict", patients[i], text, version)
                for i, text in answered
            ]
        return parts, records

    @bentoml.api(route="/triage")
    async def triage(self, patients: PatientRows, /, ctx: bentoml.Context) -> list[TriageRow]:
        """The Manchester pathway by the clinical rules only (as ``il2select triage``)."""
        request_id = uuid.uuid4().hex
        try:  # computed and recorded (hashed, compressed) off the event loop
            parts, records = await asyncio.to_thread(self._triaged, ctx, request_id, patients)
        except ContractError as exc:
            return _unprocessable(ctx, exc)
        return await self._delivered(ctx, request_id, records, self.answers.json_response(parts))

    def _triaged(self, ctx: bentoml.Context, request_id: str, patients: list[dict]):
        parts, answered = self.answers.triage_parts(patients)
        records = [  # the rules answer, not the model: no model version
            self._record(ctx, request_id, "triage", patients[i], parts[i], None) for i in answered
        ]
        return parts, records

    async def _delivered(
        self, ctx: bentoml.Context, request_id: str, records: list, response: Response
    ) -> Response:
        """Commit a request's records in one transaction (with, for an input read from FHIR
        resources, which ones: ``audit_notes``), then let the response start
        (naming the records in its ``x-il2select-audit-id`` header); 503 when the store
        cannot take them. Should the answer not reach the client after all, the guard marks
        the records undelivered (``serving.delivery``)."""
        state = ctx.request.state
        setattr(state, AUDIT_REQUEST, (self.audit, request_id))
        notes = ()
        if (sources := getattr(state, FHIR_SOURCES, None)) is not None:  # read from FHIR
            notes = (audit_note(request_id, "fhir_sources", state.token_id, sources),)
        try:
            await self.audit.append(records, notes)
        except AuditUnavailable:
            delattr(state, AUDIT_REQUEST)  # nothing was recorded: nothing to mark
            return _unavailable(ctx)
        response.headers[AUDIT_HEADER] = request_id
        return response

    def _record(self, ctx, request_id, endpoint, values, body, version: str | None):
        """An answer's record, naming the version that computed it (None: the rules)."""
        return self.audit.record(
            request_id, endpoint, ctx.request.state.token_id, version, values, body
        )


def _unavailable(ctx: bentoml.Context) -> Response:
    """503: the answer is not sent without its audit record; the client may retry."""
    ctx.response.status_code = 503
    problem = Problem(  # the cause (path, SQLite's error) is in the log, not the answer
        error="the audit log cannot record answers now; nothing was answered: retry later",
        detail=[FieldError(field="audit", value=None, rule="the audit store is unavailable")],
    )
    return JSONResponse(
        problem.model_dump(mode="json"),
        status_code=503,
        headers={"retry-after": str(RETRY_AFTER_S)},
    )


def _unprocessable(ctx: bentoml.Context, exc: ContractError) -> Response:
    ctx.response.status_code = 422  # BentoML sets the status from the context
    problem = Problem(
        error=str(exc),
        detail=[FieldError(field=exc.column or "body", value=None, rule=exc.rule or str(exc))],
    )
    return JSONResponse(problem.model_dump(mode="json"), status_code=422)


IL2Select.add_asgi_middleware(CdsCors)  # outside the guard: a CORS preflight has no token
IL2Select.add_asgi_middleware(GuardMiddleware)
IL2Select.mount_asgi_app(create_web_app(), path="/")
