"""The product's one settings object (env prefix ``IL2SELECT_``), read by the CLI, training
and the service alike through ``get_settings()`` in their entry points, never at import.

Everything a deployment moves lives under one project folder (``IL2SELECT_PROJECT_DIR``,
default the working directory): the embedded MLflow store and its artifacts, the tokens
and the audit log. The standard ``MLFLOW_TRACKING_URI`` wins over the embedded store.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_PATIENTS = 10_000
SERVER_SCHEMES = {"http", "https", "databricks"}


class Settings(BaseSettings):
    """Where the registry, the tokens and the audit log live, and the service's limits."""

    model_config = SettingsConfigDict(
        env_prefix="IL2SELECT_", extra="ignore", populate_by_name=True
    )

    project_dir: Path = Field(
        default_factory=Path.cwd,
        description="the project folder: embedded MLflow store, artifacts, tokens, audit log",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI"),
        description="MLflow's own variable; unset or empty: SQLite in the project folder",
    )
    model_name: str = "il2select"
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"
    tokens: str = Field(
        default="", description="hashed bearer tokens, comma-separated, each 'token_id:sha256hex'"
    )
    tokens_file: Path | None = Field(
        default=None,
        description="file of hashed tokens, one 'token_id:sha256hex' a line "
        "(default .il2select/tokens in the project folder)",
    )
    audit_db: Path | None = Field(
        default=None, description="the audit log (default .il2select/audit.db in the project)"
    )
    audit_url: str | None = Field(
        default=None,
        description="postgresql://user@host:port/db: the audit log on PostgreSQL, shared by "
        "every replica (unset: the SQLite file audit_db)",
    )
    audit_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="FULL: fsync at every commit (survives a power cut); NORMAL in WAL mode: a "
        "commit survives kill -9 of the server but not an OS crash",
    )
    max_body_bytes: int = MAX_BODY_BYTES
    max_patients: int = MAX_PATIENTS
    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="a request's line and headers at most this size (above: 431, closed)",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="headers complete this long after the connection opened or the "
        "previous response ended (else 408, closed; a silent connection is closed alike)",
    )
    body_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="a body complete this long after its headers"
    )
    max_connections: int = Field(
        default=512, ge=1, le=65536, description="open connections per worker; more: closed"
    )
    max_list_requests: int = Field(
        default=1,
        ge=1,
        le=64,
        description="/predict and /triage requests a worker computes at once (each holds "
        "its list in memory; /recommend keeps the rest of the worker)",
    )
    champion_poll_s: float = Field(
        default=30.0,
        ge=0,
        le=86400,
        description="the service asks the registry this often which version @champion "
        "names and takes it up without a restart (0: only on POST /admin/reload)",
    )
    small_list_bytes: int = Field(
        default=64 * 1024,
        ge=0,
        le=16 * 1024 * 1024,
        description="a /predict or /triage body declared at most this size (about 100 "
        "patients) takes a lane of its own (2 at once, 8 waiting) instead of a place "
        "behind large lists",
    )
    max_list_waiting: int = Field(
        default=2,
        ge=0,
        le=256,
        description="list requests that may wait for their turn; beyond: 503 with "
        "Retry-After at once, before the body is read",
    )

    cds_issuers: dict[str, Path] = Field(
        default_factory=dict,
        description="CDS Hooks clients trusted: a JSON object, issuer (the JWT's iss) -> the "
        "path of a local copy of its JWK Set (never fetched over the network)",
    )
    public_url: str = Field(
        default="http://127.0.0.1:3000",
        description="the service's public base URL, as CDS clients call it: a CDS Hooks "
        "JWT's aud must be this URL plus the path called",
    )
    cds_cors_origins: list[str] = Field(
        default=["*"],
        description="origins of browser-based CDS clients allowed on /cds-services (a JSON "
        "list; '*' any: calls carry their JWT in a header, never a cookie)",
    )

    @field_validator("cds_issuers")
    @classmethod
    def _absolute_key_sets(cls, issuers: dict[str, Path]) -> dict[str, Path]:
        return {issuer: path.expanduser().resolve() for issuer, path in issuers.items()}

    @field_validator("project_dir", "tokens_file", "audit_db")
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        """Absolute at once: ``serve`` hands them to a worker that may start elsewhere."""
        return None if path is None else path.expanduser().resolve()

    @property
    def tracking_uri(self) -> str:
        """The standard ``MLFLOW_TRACKING_URI`` wins; else SQLite in the project folder."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.project_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> str | None:
        """Where a new experiment keeps its artifacts: the project folder, except on a
        tracking server (http, https, databricks), whose own artifact store (S3, say)
        every machine that reads the registry can reach: None, the server decides."""
        if self.tracking_uri.split(":", 1)[0] in SERVER_SCHEMES:
            return None
        return (self.project_dir / "mlartifacts").as_uri()

    @property
    def state_dir(self) -> Path:
        return self.project_dir / ".il2select"

    @property
    def tokens_path(self) -> Path:
        return self.tokens_file or self.state_dir / "tokens"

    @property
    def audit_path(self) -> Path:
        return self.audit_db or self.state_dir / "audit.db"

    @property
    def champion_uri(self) -> str:
        return f"models:/{self.model_name}@{self.champion_alias}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
