"""The hyper-parameters of a recommender: fixed when it is fitted, carried by it (so a
registered version predicts as it was trained), logged as MLflow params on every training
run and overridable from ``il2select train``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from model.recommend.policy import PolicyConfig

DEFAULT_POLICY = PolicyConfig()


class TrainingConfig(BaseModel):
    """Every tunable number of a fit, with its range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_draws: int = Field(
        200, ge=20, le=2000, description="parameter draws behind every 95 % interval"
    )
    n_imputations: int = Field(
        25,
        ge=1,
        le=200,
        description="nearest-donor imputations a patient with unknown inputs "
        "averages over (draw d pairs with imputation d mod n_imputations)",
    )
    max_donors: int = Field(
        5000, ge=100, le=100_000, description="complete training patients kept as donors"
    )
    min_group_events: int = Field(
        20,
        ge=5,
        le=1000,
        description="events a response group needs for its own survival "
        "curve (fewer: it borrows its neighbour's)",
    )
    background_mortality_per_year: float = Field(
        0.015,
        ge=0.0,
        lt=0.5,
        description="other-cause deaths a year the IL-2 cure models carry (the "
        "cured still die at the population's rate; life tables near age 60: 1.5 %)",
    )
    extrapolation_propensity: float = Field(
        0.02,
        gt=0.0,
        lt=0.5,
        description="a patient whose propensity for either strategy is "
        "below this is flagged as extrapolated",
    )
    min_durable_gain: float = Field(
        DEFAULT_POLICY.min_durable_gain,
        ge=0.0,
        le=1.0,
        description="policy: the least gain in P(durable complete "
        "remission) that recommends IL-2 first (its 95 % lower bound must also be above 0)",
    )
    max_p_toxicity: float = Field(
        DEFAULT_POLICY.max_p_toxicity,
        ge=0.0,
        le=1.0,
        description="policy: the highest P(severe cardiac toxicity) "
        "at which IL-2 first may be recommended",
    )

    @property
    def policy(self) -> PolicyConfig:
        return PolicyConfig(self.min_durable_gain, self.max_p_toxicity)

    def as_params(self) -> dict[str, float | int]:
        """The configuration as MLflow params (one per field)."""
        return self.model_dump()
