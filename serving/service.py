"""The BentoML service: thin API methods over ``serving.answers``.

Start-up loads ``models:/il2select@champion`` (a clear error if there is none), opens the
audit log and refuses to run without configured tokens. Every answer is committed to the
audit log before its response is sent.
"""

from __future__ import annotations

import bentoml
from prometheus_client import Histogram
from starlette.responses import JSONResponse, Response, StreamingResponse

from model.contract.errors import ContractError
from model.recommend.answer import PatientAnswer, SurvivalCurves
from model.settings import get_settings
from serving.audit import AuditLog, AuditUnavailable, make_record
from serving.auth import TokenConfigError, load_tokens
from serving.batching import MicroBatcher
from serving.connections import ConnectionLimits, install_connection_limits
from serving.gctune import freeze_permanent_objects, watch_gc_pauses
from serving.guard import GuardMiddleware
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

        use_single_threaded_blas()  # see model/runtime.py: BLAS threads slow small products
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
        self.champion = load_champion(settings)
        self.audit = AuditLog(settings.audit_path, settings.audit_synchronous).start()
        self.recommendations = MicroBatcher(
            self._recommend_batch, observe=RECOMMEND_BATCH_SIZE.observe
        )
        freeze_permanent_objects()  # the p99 stall: see serving/gctune.py
        watch_gc_pauses()

    @bentoml.on_startup
    async def freeze_after_warm_up(self) -> None:
        """Objects made while the app finishes starting and serves its first requests are
        permanent too: freeze them a few seconds after start-up."""
        import asyncio

        asyncio.get_running_loop().call_later(WARM_UP_S, freeze_permanent_objects, False)

    @bentoml.on_shutdown
    def close_audit(self) -> None:
        self.audit.close()

    def __is_ready__(self) -> bool:
        """Ready with a champion and an audit store that takes records (while it does not,
        each readiness check probes it, so readiness comes back by itself)."""
        return self.champion is not None and (self.audit.healthy or self.audit.probe())

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            provenance=self.champion.provenance,
            metrics=self.champion.metrics,
            tracking_uri=self.champion.tracking_uri,
        )

    @bentoml.api(route="/recommend")
    async def recommend(self, patient: PatientRequest, /, ctx: bentoml.Context) -> PatientAnswer:
        """One patient: both strategies' outlook, eligibility, pathway, the recommendation
        with its reasons and provenance. Audited before the response is sent."""
        values = patient.model_dump()
        body = await self.recommendations.submit(values)  # with concurrent requests' patients
        try:
            await self.audit.append([self._record(ctx, "recommend", values, body)])
        except AuditUnavailable as exc:
            return _unavailable(ctx, exc)
        return Response(body, media_type=JSON)

    def _recommend_batch(self, patients: list[dict]) -> list[bytes]:
        return self.answers.recommend_patients(
            self.champion.recommender, patients, self.champion.provenance
        )

    @bentoml.api(route="/survival")
    async def survival(self, patient: PatientRequest, /, ctx: bentoml.Context) -> SurvivalCurves:
        """Both strategies' overall and progression-free survival on a monthly grid."""
        values = patient.model_dump()
        body = self.answers.survival_curves(self.champion.recommender, values).model_dump_json()
        try:
            await self.audit.append([self._record(ctx, "survival", values, body)])
        except AuditUnavailable as exc:
            return _unavailable(ctx, exc)
        return Response(body, media_type=JSON)

    @bentoml.api(route="/predict")
    def predict(self, patients: PatientRows, /, ctx: bentoml.Context) -> list[PredictRow]:
        """A list of patients, order kept; bad rows come back with their errors."""
        try:
            chunks = self.answers.predict_parts(
                self.champion.recommender, patients, self.champion.provenance
            )
        except ContractError as exc:
            return _unprocessable(ctx, exc)
        parts, committed = [], []
        for texts, audited in chunks:  # a chunk's records are written while the next computes
            parts += texts
            committed.append(
                self.audit.submit(
                    [self._record(ctx, "predict", patients[i], text) for i, text in audited]
                )
            )
        try:
            for done in committed:  # every answer is in the audit log before the response
                done.result()
        except AuditUnavailable as exc:
            return _unavailable(ctx, exc)
        size = 2 + sum(len(p) for p in parts) + max(len(parts) - 1, 0)
        return StreamingResponse(
            self.answers.json_array(parts), media_type=JSON, headers={"content-length": str(size)}
        )

    @bentoml.api(route="/triage")
    def triage(self, patients: PatientRows, /, ctx: bentoml.Context) -> list[TriageRow]:
        """The Manchester pathway by the clinical rules only (as ``il2select triage``)."""
        try:
            return self.answers.triage_rows(patients)
        except ContractError as exc:
            return _unprocessable(ctx, exc)

    def _record(self, ctx: bentoml.Context, endpoint: str, values: dict, body: str | bytes):
        return make_record(
            endpoint,
            ctx.request.state.token_id,
            self.champion.provenance.model_version,
            values,
            body,
        )


def _unavailable(ctx: bentoml.Context, exc: AuditUnavailable) -> Response:
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


IL2Select.add_asgi_middleware(GuardMiddleware)
IL2Select.mount_asgi_app(create_web_app(), path="/")
