"""The Observations (and the RCC Condition) ``data.synthetic.fhir_export`` writes: mCODE
performance status, laboratory results with reference ranges and interpretations
(conventional or SI units), pathology shares and the stress test."""

from __future__ import annotations

from datetime import date, datetime

from data.synthetic import fhir_resources as fr
from model.contract.fhir.codes import (
    ECOG_ANSWERS,
    HISTOLOGY_ICDO3,
    IL2SELECT,
    KARNOFSKY_ANSWERS,
    SNOMED,
)

MORPHOLOGY = {v[0]: (code, v[1]) for code, v in reversed(HISTOLOGY_ICDO3.items())}
ANSWER_OF = {
    "ecog": {v: k for k, v in ECOG_ANSWERS.items()},
    "karnofsky": {v: k for k, v in KARNOFSKY_ANSWERS.items()},
}


def score_resources(v: dict, key: str, day: date) -> list[dict]:
    out = []
    for name, loinc, display, profile in (
        ("ecog", "89247-1", "ECOG Performance Status score", "mcode-ecog-performance-status"),
        (
            "karnofsky",
            "89243-0",
            "Karnofsky Performance Status score",
            "mcode-karnofsky-performance-status",
        ),
    ):
        if v.get(name) is not None:
            value = int(v[name])
            answer = ANSWER_OF[name].get(value)
            out.append(fr.score(key, name, loinc, display, day, value, answer, profile))
    return out


def lab_resources(v: dict, key: str, day: date, si: bool) -> list[dict]:
    out = []
    if v.get("ldh_uln_ratio") is not None:
        uln, unit = (4.0, "ukat/L") if si else (250.0, "U/L")
        out.append(
            fr.lab(
                key, "ldh", "2532-0", "LDH", day, round(v["ldh_uln_ratio"] * uln, 4), unit, high=uln
            )
        )
    if v.get("hemoglobin_below_lln") is not None:
        low = 12.0 if v.get("sex") == "female" else 13.0
        value, flag = (11.0, "L") if v["hemoglobin_below_lln"] else (14.5, "N")
        scale, unit = (10.0, "g/L") if si else (1.0, "g/dL")
        out.append(
            fr.lab(
                key,
                "hb",
                "718-7",
                "Hemoglobin",
                day,
                value * scale,
                unit,
                low=low * scale,
                flag=flag,
            )
        )
    for name, suffix, loinc, high, above, normal in (
        ("neutrophils_above_uln", "anc", "751-8", 7.5, 9.0, 4.0),
        ("platelets_above_uln", "plt", "777-3", 400.0, 480.0, 250.0),
    ):
        if v.get(name) is not None:
            value, flag = (above, "H") if v[name] else (normal, "N")
            unit = "10*9/L" if si else "10*3/uL"
            out.append(
                fr.lab(key, suffix, loinc, suffix.upper(), day, value, unit, high=high, flag=flag)
            )
    out += chemistry_resources(v, key, day, si)
    return out


def chemistry_resources(v: dict, key: str, day: date, si: bool) -> list[dict]:
    out = []
    if v.get("corrected_calcium_mg_dl") is not None:
        albumin = 3.5  # g/dL: the calcium written is corrected back by 0.4 mg/dL
        total = v["corrected_calcium_mg_dl"] - 0.8 * (4.0 - albumin)
        if si:
            out.append(
                fr.lab(key, "ca", "2000-8", "Calcium", day, round(total * 0.2495, 4), "mmol/L")
            )
            out.append(fr.lab(key, "alb", "1751-7", "Albumin", day, albumin * 10, "g/L"))
        else:
            out.append(fr.lab(key, "ca", "17861-6", "Calcium", day, round(total, 4), "mg/dL"))
            out.append(fr.lab(key, "alb", "1751-7", "Albumin", day, albumin, "g/dL"))
    if v.get("creatinine_mg_dl") is not None:
        value = v["creatinine_mg_dl"]
        loinc, value, unit = (
            ("14682-9", round(value * 88.42, 2), "umol/L") if si else ("2160-0", value, "mg/dL")
        )
        out.append(fr.lab(key, "creat", loinc, "Creatinine", day, value, unit))
    if v.get("fev1_litres") is not None:
        value, unit = (v["fev1_litres"] * 1000, "mL") if si else (v["fev1_litres"], "L")
        out.append(fr.lab(key, "fev1", "20150-9", "FEV1", day, value, unit))
    if v.get("fev1_pct_predicted") is not None:
        out.append(
            fr.lab(
                key,
                "fev1pct",
                "20152-5",
                "FEV1 measured/predicted",
                day,
                v["fev1_pct_predicted"],
                "%",
            )
        )
    return out


def pathology_resources(
    v: dict, key: str, diagnosed: datetime | None, fallback: date
) -> list[dict]:
    out = []
    if v.get("histology") is not None or diagnosed is not None:
        code, display = MORPHOLOGY.get(v.get("histology"), (None, ""))
        out.append(fr.rcc(key, code, display, diagnosed))
    day = diagnosed.date() if diagnosed else fallback
    for name in ("caix", "alveolar", "solid", "papillary", "granular"):
        if v.get(f"{name}_pct") is not None:
            out.append(fr.percent(key, f"{name}-pct", f"{name} %", day, v[f"{name}_pct"]))
    if v.get("cardiac_stress_abnormal") is not None:
        result = (
            ("263654008", "Abnormal") if v["cardiac_stress_abnormal"] else ("17621005", "Normal")
        )
        code = fr.coding(IL2SELECT, "cardiac-stress-test", "cardiac stress test")
        value = {"valueCodeableConcept": fr.concept(fr.coding(SNOMED, *result))}
        out.append(fr.observation(key, "stress", code, day, value))
    return out
