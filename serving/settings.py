"""Typed settings of the service, read from the environment (prefix ``IL2SELECT_``) and
``MLFLOW_TRACKING_URI`` when an entry point asks for them, never at import."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parents[1]
STATE_DIR = PROJECT_DIR / ".il2select"
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_PATIENTS = 10_000


class ServingSettings(BaseSettings):
    """Where the champion, the tokens and the audit log live."""

    model_config = SettingsConfigDict(env_prefix="IL2SELECT_", extra="ignore")

    tracking_uri: str = Field(
        default=f"sqlite:///{PROJECT_DIR / 'mlflow.db'}",
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "IL2SELECT_TRACKING_URI"),
        description="MLflow tracking store holding the registry",
    )
    model_name: str = "il2select"
    model_alias: str = "champion"
    tokens: str = Field(
        default="", description=("hashed bearer tokens, comma-separated, each 'token_id:sha256hex'")
    )
    tokens_file: Path = Field(
        default=STATE_DIR / "tokens",
        description=(
            "file of hashed tokens, one 'token_id:sha256hex' a line (read when it exists)"
        ),
    )
    audit_db: Path = STATE_DIR / "audit.db"
    audit_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description=(
            "FULL: fsync at every commit (survives a power cut); NORMAL in WAL mode: a commit "
            "survives kill -9 of the server but not an OS crash"
        ),
    )
    max_body_bytes: int = MAX_BODY_BYTES
    max_patients: int = MAX_PATIENTS


@lru_cache(maxsize=1)
def get_settings() -> ServingSettings:
    return ServingSettings()
