"""The patient data contract: one specification per column of the brief.

Everything else — the pydantic ``Patient`` the API takes, the pandera schema that
validates whole tables, the parsing of CSV cells, the pyfunc's MLflow signature — is
generated from ``COLUMNS`` below, so a range or an allowed value is written exactly once.
"""

from __future__ import annotations

from model.contract.specs import ColumnSpec, bool_column, pct_column

# BRIEF "Data contract": survival is given at these months (``A_os_at_M_months``, …), and a
# complete remission still without progression at DURABLE_MONTHS is durable.
SURVIVAL_HORIZONS_MONTHS: tuple[int, ...] = (12, 24, 36, 60)
DURABLE_MONTHS = 60
COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "patient_id",
        "text",
        "the caller's identifier; passed through, never interpreted",
        may_be_unknown=True,
        example="MAN-001",
    ),
    ColumnSpec(
        "age_years",
        "float",
        "age at start of systemic therapy",
        unit="years",
        ge=0,
        le=120,
        example=58.0,
    ),
    ColumnSpec("sex", "choice", "sex", choices=("female", "male"), example="male"),
    ColumnSpec("ecog", "int", "ECOG performance status", ge=0, le=4, example=0),
    ColumnSpec(
        "karnofsky",
        "int",
        "Karnofsky performance status",
        unit="%",
        may_be_unknown=True,
        ge=0,
        le=100,
        step=10,
        example=90,
    ),
    ColumnSpec(
        "months_from_diagnosis",
        "float",
        "initial diagnosis to systemic therapy",
        unit="months",
        ge=0,
        le=1200,
        example=18.0,
    ),
    ColumnSpec(
        "ldh_uln_ratio",
        "float",
        "LDH divided by the upper limit of normal",
        may_be_unknown=True,
        gt=0,
        le=100,
        example=0.9,
    ),
    bool_column(
        "hemoglobin_below_lln", "haemoglobin below the lower limit of normal", unknown=True
    ),
    ColumnSpec(
        "corrected_calcium_mg_dl",
        "float",
        "corrected serum calcium",
        unit="mg/dL",
        may_be_unknown=True,
        gt=0,
        plausible=(5.0, 20.0),
        below_plausible_hint="looks like mmol/L (multiply by 4.008 for mg/dL)",
        example=9.4,
    ),
    ColumnSpec(
        "histology",
        "choice",
        "histological subtype",
        choices=("clear_cell", "papillary", "chromophobe", "other"),
        example="clear_cell",
    ),
    pct_column("alveolar_pct", "alveolar architecture share", 70.0),
    pct_column("solid_pct", "solid architecture share", 20.0),
    pct_column("papillary_pct", "papillary architecture share", 0.0),
    pct_column("granular_pct", "granular cytology share", 0.0),
    pct_column("caix_pct", "CAIX-positive tumour cells", 95.0),
    bool_column("met_lung", "lung metastases", example=True),
    bool_column("met_bone", "bone metastases"),
    bool_column("met_liver", "liver metastases"),
    bool_column("met_lymph_node", "lymph-node metastases"),
    bool_column("met_brain", "brain metastases"),
    bool_column("met_other", "metastases in another organ"),
    bool_column("brain_mets_untreated", "untreated brain metastases"),
    bool_column("prior_nephrectomy", "prior nephrectomy", example=True),
    bool_column("prior_tki", "prior sunitinib / sorafenib / pazopanib"),
    ColumnSpec(
        "months_since_tki",
        "float",
        "wash-out since the last TKI dose (empty without one)",
        unit="months",
        may_be_unknown=True,
        ge=0,
        le=600,
        example=None,
    ),
    bool_column("prior_bevacizumab", "prior bevacizumab"),
    ColumnSpec(
        "creatinine_mg_dl",
        "float",
        "serum creatinine",
        unit="mg/dL",
        may_be_unknown=True,
        gt=0,
        plausible=(0.2, 15.0),
        above_plausible_hint="looks like µmol/L (divide by 88.4 for mg/dL)",
        example=1.0,
    ),
    bool_column(
        "neutrophils_above_uln",
        "absolute neutrophil count above the upper limit of normal (IMDC)",
        unknown=True,
    ),
    bool_column(
        "platelets_above_uln", "platelet count above the upper limit of normal (IMDC)", unknown=True
    ),
    ColumnSpec(
        "fev1_litres",
        "float",
        "forced expiratory volume in 1 s",
        unit="L",
        may_be_unknown=True,
        gt=0,
        le=10,
        example=3.1,
    ),
    ColumnSpec(
        "fev1_pct_predicted",
        "float",
        "FEV1 as a share of predicted",
        unit="%",
        may_be_unknown=True,
        gt=0,
        le=250,
        example=92.0,
    ),
    bool_column(
        "cardiac_stress_abnormal", "abnormal LVEF or wall motion on a stress test", unknown=True
    ),
    bool_column(
        "cardiac_disease", "heart failure, serious arrhythmia or coronary ischaemia", unknown=True
    ),
    bool_column("active_infection", "active infection"),
    bool_column("organ_allograft", "history of organ allograft"),
    bool_column("steroids_last_4_weeks", "systemic corticosteroids in the last 4 weeks"),
    bool_column("chemo_radio_last_6_weeks", "chemotherapy or radiotherapy in the last 6 weeks"),
)

SPECS: dict[str, ColumnSpec] = {spec.name: spec for spec in COLUMNS}
FEATURE_COLUMNS: tuple[str, ...] = tuple(spec.name for spec in COLUMNS)
# BRIEF "Unknown inputs": the inputs a tumour board may leave empty, in the brief's order.
UNKNOWABLE_COLUMNS: tuple[str, ...] = (
    "karnofsky",
    "ldh_uln_ratio",
    "hemoglobin_below_lln",
    "corrected_calcium_mg_dl",
    "alveolar_pct",
    "solid_pct",
    "papillary_pct",
    "granular_pct",
    "caix_pct",
    "creatinine_mg_dl",
    "fev1_litres",
    "fev1_pct_predicted",
    "cardiac_stress_abnormal",
    "cardiac_disease",
    "neutrophils_above_uln",
    "platelets_above_uln",
)
# Columns that must be present in every table (patient_id and the unknowable ones may be absent).
REQUIRED_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in FEATURE_COLUMNS
    if name not in UNKNOWABLE_COLUMNS and name not in ("patient_id", "months_since_tki")
)
BOOL_COLUMNS: tuple[str, ...] = tuple(s.name for s in COLUMNS if s.kind == "bool")
NUMERIC_COLUMNS: tuple[str, ...] = tuple(s.name for s in COLUMNS if s.kind in ("float", "int"))

# An observed (real-format) cohort: the treatment received and its outcomes (BRIEF).
OBSERVED_OUTCOME_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "treatment",
        "choice",
        "first-line treatment received (poor risk: tki)",
        choices=("il2", "tki"),
        example="il2",
    ),
    ColumnSpec(
        "best_response", "choice", "best response", choices=("CR", "PR", "SD", "PD"), example="PR"
    ),
    ColumnSpec(
        "pfs_months",
        "float",
        "progression-free survival time",
        unit="months",
        ge=0,
        le=600,
        example=14.0,
    ),
    bool_column("pfs_event", "progression or death observed (false: censored)", example=True),
    ColumnSpec(
        "os_months", "float", "overall survival time", unit="months", ge=0, le=600, example=30.0
    ),
    bool_column("os_event", "death observed (false: censored)", example=False),
    bool_column(
        "severe_cardiac_toxicity",
        "grade 3-5 cardiovascular event on IL-2 (empty for TKI)",
        unknown=True,
    ),
)
