"""Typed settings (env prefix ``IL2SELECT_``), read in entry points via ``get_settings()``,
never at import."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IL2SELECT_")

    project_dir: Path = Field(
        default_factory=Path.cwd, description="where the embedded MLflow store and artifacts live"
    )
    model_name: str = "il2select"
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"
    experiment: str = "il2select"
    # recommendation policy thresholds (model.policy.PolicyConfig)
    min_durable_gain: float = 0.0
    max_p_toxicity: float = 0.25

    @property
    def tracking_uri(self) -> str:
        """The standard ``MLFLOW_TRACKING_URI`` wins; else SQLite in the project folder."""
        return (
            os.environ.get("MLFLOW_TRACKING_URI")
            or f"sqlite:///{(self.project_dir / 'mlflow.db').resolve()}"
        )

    @property
    def artifact_root(self) -> str:
        return (self.project_dir / "mlartifacts").resolve().as_uri()

    @property
    def champion_uri(self) -> str:
        return f"models:/{self.model_name}@{self.champion_alias}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
