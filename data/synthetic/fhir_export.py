"""Contract rows (a clinic list) → FHIR R4 resources, the inverse of
``model.contract.fhir`` for tests, benchmarks and demos.

Each patient becomes a Patient, the RCC Condition with its ICD-O-3 morphology, mCODE
performance-status and laboratory Observations, secondary cancer Conditions (confirmed or
refuted per organ), Procedures and MedicationStatements, dated relative to
``reference_date``; an unknown value is simply no resource. A false finding is written
as a denial the mapping reads (a refuted Condition, a not-done Procedure, a not-taken
statement coded with an ATC class). ``si_units`` writes SI units (µmol/L, mmol/L, g/L,
µkat/L, mL) to exercise the conversions.

What FHIR does not carry: free-text columns (``note``), an empty ``patient_id`` (the
Patient's resource id stands in), a fractional age (completed years travel), and
``brain_mets_untreated`` without ``met_brain`` (no brain metastases: none untreated).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from data.synthetic import fhir_resources as fr
from data.synthetic.fhir_export_observations import (
    lab_resources,
    pathology_resources,
    score_resources,
)
from model.contract.fhir.codes import IL2SELECT, SNOMED
from model.contract.tables import validate_table

LAB_DAYS_BEFORE = 7
SITES = {
    "lung": ("met_lung", fr.coding(SNOMED, "39607008", "Lung structure")),
    "bone": ("met_bone", fr.coding(SNOMED, "272673000", "Bone structure")),
    "liver": ("met_liver", fr.coding(SNOMED, "10200004", "Liver structure")),
    "lymph-node": ("met_lymph_node", fr.coding(SNOMED, "59441001", "Structure of lymph node")),
    "brain": ("met_brain", fr.coding(SNOMED, "12738006", "Brain structure")),
    "other": ("met_other", fr.coding(IL2SELECT, "other-organ", "another organ")),
}
BRAIN = SITES["brain"][1]
RADIOTHERAPY = fr.coding(SNOMED, "108290001", "Radiation oncology AND/OR radiotherapy")
CHEMOTHERAPY = fr.coding(SNOMED, "367336001", "Chemotherapy")


def known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def patient_resources(
    row: Mapping[str, Any], key: str, reference_date: date, *, si_units: bool = False
) -> list[dict]:
    """The FHIR resources of one contract row (typed: numbers, flags as 1/0 or bools,
    unknown as NaN or None). ``key`` is the Patient's resource id."""
    v = {name: (row[name] if known(row.get(name)) else None) for name in row}
    labs_day = reference_date - timedelta(days=LAB_DAYS_BEFORE)
    diagnosed = (
        fr.moment_before(reference_date, v["months_from_diagnosis"])
        if v.get("months_from_diagnosis") is not None
        else None
    )
    pid = v.get("patient_id")
    age = v.get("age_years")
    born = fr.years_before(reference_date, int(age)) if age is not None else None
    resources = [fr.patient(key, str(pid) if pid else None, v.get("sex"), born)]
    resources += score_resources(v, key, labs_day) + lab_resources(v, key, labs_day, si_units)
    resources += pathology_resources(v, key, diagnosed, labs_day)
    resources += _sites(v, key, diagnosed.date() if diagnosed else labs_day, reference_date)
    resources += _findings(v, key, reference_date)
    resources += _treatments(v, key, reference_date, diagnosed)
    return resources


def _sites(v: dict, key: str, day: date, on: date) -> list[dict]:
    out = []
    for site, (column, body) in SITES.items():
        if v.get(column) is not None:
            out.append(fr.metastasis(key, site, body, bool(v[column]), day))
    if v.get("met_brain") and v.get("brain_mets_untreated") is not None:
        treated = not v["brain_mets_untreated"]
        out.append(
            fr.procedure(
                key,
                "brain-rt",
                RADIOTHERAPY,
                treated,
                on - timedelta(days=90),
                bodySite=[fr.concept(BRAIN)],
            )
        )
    return out


def _findings(v: dict, key: str, on: date) -> list[dict]:
    out = []
    for column, suffix, code, display in (
        ("cardiac_disease", "heart", "56265001", "Heart disease"),
        ("active_infection", "infection", "40733004", "Infectious disease"),
        ("organ_allograft", "allograft", "161663000", "History of organ recipient"),
    ):
        if v.get(column) is None:
            continue
        if column == "cardiac_disease" and v[column]:  # a named kind: "heart disease" is vaguer
            code, display = "698247007", "Cardiac arrhythmia"
        concept = fr.concept(fr.coding(SNOMED, code, display))
        out.append(fr.condition(key, suffix, concept, bool(v[column])))
    return out


def _treatments(v: dict, key: str, on: date, diagnosed: datetime | None) -> list[dict]:
    out = []
    if v.get("prior_nephrectomy") is not None:
        day = min((diagnosed.date() if diagnosed else on) + timedelta(days=30), on)
        code = fr.coding(SNOMED, "116033007", "Radical nephrectomy")
        out.append(fr.procedure(key, "nephrectomy", code, bool(v["prior_nephrectomy"]), day))
    if v.get("prior_tki"):
        washout = v.get("months_since_tki")
        end = fr.moment_before(on, washout) if washout is not None else None
        start = end - timedelta(days=180) if end is not None else None
        codes = [fr.rxnorm("357977", "sunitinib"), fr.atc("L01EX01", "sunitinib")]
        out.append(fr.statement(key, "tki", codes, "completed", start, end))
    elif v.get("prior_tki") is not None:
        out.append(
            fr.statement(
                key, "tki", [fr.atc("L01EX", "Other protein kinase inhibitors")], "not-taken"
            )
        )
    if v.get("prior_bevacizumab") is not None:
        if v["prior_bevacizumab"]:
            codes = [fr.rxnorm("253337", "bevacizumab"), fr.atc("L01FG01", "bevacizumab")]
            end = on - timedelta(days=120)
            out.append(fr.statement(key, "bev", codes, "completed", end - timedelta(days=90), end))
        else:
            out.append(
                fr.statement(key, "bev", [fr.atc("L01FG", "VEGF/VEGFR inhibitors")], "not-taken")
            )
    if v.get("steroids_last_4_weeks") is not None:
        if v["steroids_last_4_weeks"]:
            codes = [fr.rxnorm("3264", "dexamethasone")]
            out.append(fr.statement(key, "steroid", codes, "active", on - timedelta(days=14)))
        else:
            out.append(
                fr.statement(key, "steroid", [fr.atc("H02AB", "Glucocorticoids")], "not-taken")
            )
    if v.get("chemo_radio_last_6_weeks") is not None:
        if v["chemo_radio_last_6_weeks"]:
            out.append(fr.procedure(key, "rt", RADIOTHERAPY, True, on - timedelta(days=14)))
        else:
            out.append(fr.procedure(key, "rt", RADIOTHERAPY, False))
            out.append(fr.procedure(key, "chemo", CHEMOTHERAPY, False))
    return out


def table_resources(
    raw: pd.DataFrame, reference_date: date, *, si_units: bool = False, prefix: str = "p"
) -> list[list[dict]]:
    """Each row of a patient table (CSV text or typed) as its resources; Patient ids are
    ``prefix`` and the row number (``p001`` …)."""
    typed = validate_table(raw).typed
    rows = typed.to_dict("records")
    return [
        patient_resources(_flags(row), f"{prefix}{i:03d}", reference_date, si_units=si_units)
        for i, row in enumerate(rows, start=1)
    ]


def _flags(row: dict) -> dict:
    from model.contract.columns import BOOL_COLUMNS

    return {k: (bool(v) if k in BOOL_COLUMNS and known(v) else v) for k, v in row.items()}


def write_bulk_export(
    raw: pd.DataFrame, folder: Path, reference_date: date, *, si_units: bool = False
) -> dict[str, int]:
    """Write a table as a FHIR Bulk Data export: one ``Type.ndjson`` per resource type,
    Patients in row order. Returns the number of resources per type."""
    by_type: dict[str, list[bytes]] = defaultdict(list)
    for resources in table_resources(raw, reference_date, si_units=si_units):
        for resource in resources:
            by_type[resource["resourceType"]].append(orjson.dumps(resource))
    folder.mkdir(parents=True, exist_ok=True)
    for kind, lines in by_type.items():
        (folder / f"{kind}.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    return {kind: len(lines) for kind, lines in by_type.items()}


def bundle_of(resources: list[dict]) -> dict:
    """A collection Bundle of resources (one patient's, or several patients')."""
    base = "https://il2select.example.org/fhir"
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }
