"""FHIR R4 → the data contract: one test per mapped code and per unit conversion.

The expected values are written here by hand (not read from the code tables), and each
table is checked to be covered, so a code added to a table without a test fails.
"""

from __future__ import annotations

import pytest

from model.contract.fhir import codes
from model.contract.fhir.units import CONVERSIONS, convert
from tests.conftest import REPO
from tests.unit.fhir_builders import (
    ATC,
    ICD10CM,
    IL2SELECT,
    LOINC,
    RXNORM,
    SNOMED,
    cc,
    cond,
    days_ago,
    lab,
    mapped,
    med,
    metastasis,
    obs,
    proc,
    rcc,
)

ALBUMIN_4 = ("1751-7", 4.0, "g/dL")
# (system, code) -> (resources, column, expected)
OBSERVATION_CASES = {
    (LOINC, "89247-1"): ([obs("89247-1", valueInteger=1)], "ecog", 1),
    (LOINC, "89243-0"): ([obs("89243-0", valueInteger=80)], "karnofsky", 80),
    (LOINC, "2532-0"): ([lab("2532-0", 300, "U/L", high=250)], "ldh_uln_ratio", 1.2),
    (LOINC, "14804-9"): ([lab("14804-9", 125, "U/L", high=250)], "ldh_uln_ratio", 0.5),
    (LOINC, "14805-6"): ([lab("14805-6", 500, "U/L", high=250)], "ldh_uln_ratio", 2.0),
    (LOINC, "718-7"): ([lab("718-7", 11.0, "g/dL", low=13.0)], "hemoglobin_below_lln", True),
    (LOINC, "59260-0"): ([lab("59260-0", 9.0, "mmol/L", low=8.1)], "hemoglobin_below_lln", False),
    (LOINC, "751-8"): ([lab("751-8", 9.0, "10*9/L", high=7.5)], "neutrophils_above_uln", True),
    (LOINC, "26499-4"): (
        [lab("26499-4", 4.0, "10*3/uL", high=7.5)],
        "neutrophils_above_uln",
        False,
    ),
    (LOINC, "777-3"): ([lab("777-3", 480, "10*9/L", high=400)], "platelets_above_uln", True),
    (LOINC, "26515-7"): ([lab("26515-7", 250, "10*3/uL", high=400)], "platelets_above_uln", False),
    (LOINC, "17861-6"): (
        [lab("17861-6", 9.6, "mg/dL"), lab(*ALBUMIN_4)],
        "corrected_calcium_mg_dl",
        9.6,
    ),
    (LOINC, "2000-8"): (
        [lab("2000-8", 2.495, "mmol/L"), lab(*ALBUMIN_4)],
        "corrected_calcium_mg_dl",
        10.0,
    ),
    (LOINC, "29265-6"): ([lab("29265-6", 2.2455, "mmol/L")], "corrected_calcium_mg_dl", 9.0),
    (LOINC, "1751-7"): (
        [lab("17861-6", 9.0, "mg/dL"), lab("1751-7", 3.0, "g/dL")],
        "corrected_calcium_mg_dl",
        9.8,
    ),
    (LOINC, "61151-7"): (
        [lab("17861-6", 9.0, "mg/dL"), lab("61151-7", 30, "g/L")],
        "corrected_calcium_mg_dl",
        9.8,
    ),
    (LOINC, "61152-5"): (
        [lab("17861-6", 9.0, "mg/dL"), lab("61152-5", 4.5, "g/dL")],
        "corrected_calcium_mg_dl",
        8.6,
    ),
    (LOINC, "2160-0"): ([lab("2160-0", 1.2, "mg/dL")], "creatinine_mg_dl", 1.2),
    (LOINC, "38483-4"): ([lab("38483-4", 0.9, "mg/dL")], "creatinine_mg_dl", 0.9),
    (LOINC, "14682-9"): ([lab("14682-9", 132.63, "umol/L")], "creatinine_mg_dl", 1.5),
    (LOINC, "20150-9"): ([lab("20150-9", 2.5, "L")], "fev1_litres", 2.5),
    (LOINC, "20152-5"): ([lab("20152-5", 74, "%")], "fev1_pct_predicted", 74.0),
    (IL2SELECT, "caix-pct"): (
        [obs("caix-pct", IL2SELECT, valueQuantity={"value": 86, "unit": "%"})],
        "caix_pct",
        86.0,
    ),
    (IL2SELECT, "alveolar-pct"): (
        [obs("alveolar-pct", IL2SELECT, valueQuantity={"value": 55, "unit": "%"})],
        "alveolar_pct",
        55.0,
    ),
    (IL2SELECT, "solid-pct"): (
        [obs("solid-pct", IL2SELECT, valueQuantity={"value": 30, "unit": "%"})],
        "solid_pct",
        30.0,
    ),
    (IL2SELECT, "papillary-pct"): (
        [obs("papillary-pct", IL2SELECT, valueQuantity={"value": 12, "unit": "%"})],
        "papillary_pct",
        12.0,
    ),
    (IL2SELECT, "granular-pct"): (
        [obs("granular-pct", IL2SELECT, valueQuantity={"value": 60, "unit": "%"})],
        "granular_pct",
        60.0,
    ),
    (codes.CPT, "93350"): (
        [obs("93350", codes.CPT, valueCodeableConcept=cc(SNOMED, "263654008"))],
        "cardiac_stress_abnormal",
        True,
    ),
    (IL2SELECT, "cardiac-stress-test"): (
        [obs("cardiac-stress-test", IL2SELECT, valueCodeableConcept=cc(SNOMED, "17621005"))],
        "cardiac_stress_abnormal",
        False,
    ),
}


def test_every_observation_code_has_a_case():
    assert set(OBSERVATION_CASES) == set(codes.OBSERVATIONS)


@pytest.mark.parametrize("key", sorted(OBSERVATION_CASES), ids="|".join)
def test_observation_code(key):
    resources, column, expected = OBSERVATION_CASES[key]
    row = mapped(*resources)
    assert row.values[column] == pytest.approx(expected, abs=1e-4), row.unknown.get(column)
    assert column not in row.unknown


ECOG = {"LA9622-7": 0, "LA9623-5": 1, "LA9624-3": 2, "LA9625-0": 3, "LA9626-8": 4, "LA9627-6": 5}
KARNOFSKY = {
    "LA29175-9": 100, "LA29176-7": 90, "LA29177-5": 80, "LA29178-3": 70, "LA29179-1": 60,
    "LA29180-9": 50, "LA29181-7": 40, "LA29182-5": 30, "LA29183-3": 20, "LA29184-1": 10,
    "LA9627-6": 0,
}  # fmt: skip


@pytest.mark.parametrize(
    ("loinc", "column", "answer", "score"),
    [("89247-1", "ecog", a, s) for a, s in ECOG.items()]
    + [("89243-0", "karnofsky", a, s) for a, s in KARNOFSKY.items()],
)
def test_performance_status_answer_code(loinc, column, answer, score):
    assert codes.ECOG_ANSWERS == ECOG and codes.KARNOFSKY_ANSWERS == KARNOFSKY
    as_value = mapped(obs(loinc, valueCodeableConcept=cc(LOINC, answer)))  # mCODE STU1 ballot
    as_interpretation = mapped(obs(loinc, valueInteger=score, interpretation=[cc(LOINC, answer)]))
    assert as_value.values[column] == score == as_interpretation.values[column]


@pytest.mark.parametrize(
    ("code", "loinc", "column", "expected"),
    [
        ("L", "718-7", "hemoglobin_below_lln", True),
        ("LL", "718-7", "hemoglobin_below_lln", True),
        ("LU", "718-7", "hemoglobin_below_lln", True),
        ("N", "718-7", "hemoglobin_below_lln", False),
        ("H", "718-7", "hemoglobin_below_lln", False),
        ("HH", "718-7", "hemoglobin_below_lln", False),
        ("H", "751-8", "neutrophils_above_uln", True),
        ("HH", "751-8", "neutrophils_above_uln", True),
        ("HU", "777-3", "platelets_above_uln", True),
        ("N", "777-3", "platelets_above_uln", False),
        ("L", "777-3", "platelets_above_uln", False),
        ("LL", "751-8", "neutrophils_above_uln", False),
    ],
)
def test_interpretation_code_without_a_reference_range(code, loinc, column, expected):
    row = mapped(lab(loinc, 10.0, "g/dL" if loinc == "718-7" else "10*9/L", flag=code))
    assert row.values[column] is expected


HISTOLOGY = {
    "8310/3": "clear_cell",
    "8260/3": "papillary",
    "8317/3": "chromophobe",
    "8270/3": "chromophobe",
    "8319/3": "other",
    "8510/3": "other",
    "8316/3": "other",
    "8318/3": "other",
}


@pytest.mark.parametrize(("morphology", "histology"), HISTOLOGY.items())
def test_icdo3_morphology(morphology, histology):
    assert {k: v[0] for k, v in codes.HISTOLOGY_ICDO3.items()} == HISTOLOGY
    assert mapped(rcc(morphology)).values["histology"] == histology


@pytest.mark.parametrize(
    "code", [(SNOMED, "363518003"), (ICD10CM, "C64.9"), (ICD10CM, "C64.1"), (ICD10CM, "C64")]
)
def test_rcc_condition_code_gives_months_from_diagnosis(code):
    row = mapped(cond(*code, onsetDateTime=days_ago(365)))
    assert row.values["months_from_diagnosis"] == pytest.approx(11.99, abs=0.01)


SITES = {
    (SNOMED, "39607008"): "met_lung",
    (SNOMED, "272673000"): "met_bone",
    (SNOMED, "10200004"): "met_liver",
    (SNOMED, "59441001"): "met_lymph_node",
    (SNOMED, "12738006"): "met_brain",
    (SNOMED, "23451007"): "met_other",
    (SNOMED, "15425007"): "met_other",
    (SNOMED, "87784001"): "met_other",
    (SNOMED, "15776009"): "met_other",
    (IL2SELECT, "other-organ"): "met_other",
}


@pytest.mark.parametrize("site", sorted(SITES), ids="|".join)
@pytest.mark.parametrize("status", ["confirmed", "refuted"])
def test_secondary_cancer_body_site(site, status):
    assert {k: v[0] for k, v in codes.BODY_SITES.items()} == SITES
    assert mapped(metastasis(site, status)).values[SITES[site]] is (status == "confirmed")


@pytest.mark.parametrize(
    ("code", "column"),
    [
        ("C78.01", "met_lung"),
        ("C78.7", "met_liver"),
        ("C79.31", "met_brain"),
        ("C79.51", "met_bone"),
        ("C79.52", "met_bone"),
        ("C77.2", "met_lymph_node"),
        ("C79.71", "met_other"),
        ("C78.6", "met_other"),
    ],
)
def test_secondary_icd10_code_names_the_organ(code, column):
    assert mapped(cond(ICD10CM, code)).values[column] is True


def test_secondary_icd10_unspecified_site_is_unknown_and_named():
    row = mapped(cond(ICD10CM, "C79.9"))
    assert "met_other" not in row.values and "body site" in row.unknown["met_other"]


CARDIAC = [(SNOMED, c) for c in ("84114007", "698247007", "49436004", "414545008", "22298006")]
CARDIAC += [(ICD10CM, c) for c in ("I50.9", "I47.1", "I48.91", "I49.9", "I20.9", "I21.4",
                                    "I22.0", "I23.1", "I24.9", "I25.10")]  # fmt: skip


@pytest.mark.parametrize("code", CARDIAC, ids="|".join)
def test_cardiac_disease_code(code):
    assert mapped(cond(*code, clinicalStatus=None)).values["cardiac_disease"] is True


def test_cardiac_disease_denied_by_the_umbrella_code_only():
    assert mapped(cond(SNOMED, "56265001", "refuted")).values["cardiac_disease"] is False
    one_kind = mapped(cond(SNOMED, "84114007", "refuted"))
    assert (
        one_kind.values["cardiac_disease"] is None
        and "arrhythmia" in one_kind.unknown["cardiac_disease"]
    )
    vague = mapped(cond(SNOMED, "56265001"))
    assert vague.values["cardiac_disease"] is None


INFECTION = [(SNOMED, "40733004"), (SNOMED, "233604007"), (ICD10CM, "A41.9"), (ICD10CM, "B34.9"),
             (ICD10CM, "J18.9"), (ICD10CM, "N39.0")]  # fmt: skip


@pytest.mark.parametrize("code", INFECTION, ids="|".join)
def test_active_infection_code(code):
    assert mapped(cond(*code)).values["active_infection"] is True


def test_infection_denied_by_the_umbrella_code_only_and_resolved_is_not_active():
    assert mapped(cond(SNOMED, "40733004", "refuted")).values["active_infection"] is False
    assert "active_infection" not in mapped(cond(SNOMED, "233604007", "refuted")).values
    resolved = cond(
        SNOMED,
        "233604007",
        clinicalStatus=cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved"),
    )
    assert "is resolved" in mapped(resolved).unknown["active_infection"]


@pytest.mark.parametrize(
    "resource",
    [
        cond(SNOMED, "161663000"),
        cond(ICD10CM, "Z94.0"),
        cond(ICD10CM, "Z94.4"),
        proc("313039003"),
        proc("70536003"),
    ],  # fmt: skip
    ids=["161663000", "Z94.0", "Z94.4", "313039003", "70536003"],
)
def test_organ_allograft_code(resource):
    assert mapped(resource).values["organ_allograft"] is True


def test_organ_allograft_denied():
    assert mapped(cond(SNOMED, "161663000", "refuted")).values["organ_allograft"] is False


@pytest.mark.parametrize("code", ["175905003", "116033007", "81516001"])
def test_nephrectomy_code(code):
    assert mapped(proc(code)).values["prior_nephrectomy"] is True
    assert mapped(proc(code, "not-done")).values["prior_nephrectomy"] is False


@pytest.mark.parametrize(
    ("code", "other"), [("108290001", "367336001"), ("367336001", "108290001")]
)
def test_radiotherapy_and_chemotherapy_procedure(code, other):
    denied = proc(other, "not-done")
    assert mapped(proc(code, day=days_ago(20)), denied).values["chemo_radio_last_6_weeks"] is True
    assert mapped(proc(code, day=days_ago(60)), denied).values["chemo_radio_last_6_weeks"] is False


TKI = [(RXNORM, "357977"), (RXNORM, "495881"), (RXNORM, "714438")]
TKI += [(ATC[0], c) for c in ("L01EX01", "L01EX02", "L01EX03", "L01XE04", "L01XE05", "L01XE11")]


@pytest.mark.parametrize("code", TKI, ids="|".join)
def test_tki_code_gives_prior_tki_and_washout(code):
    row = mapped(med(*code, start=days_ago(200), end=days_ago(56)))
    assert row.values["prior_tki"] is True and row.values["months_since_tki"] == 1.84


@pytest.mark.parametrize("code", ["L01EX", "L01E", "L01"])
def test_tki_class_not_taken(code):
    row = mapped(med(ATC[0], code, "not-taken"))
    assert row.values["prior_tki"] is False and row.values["months_since_tki"] is None
    assert "months_since_tki" not in row.unknown


@pytest.mark.parametrize("code", [(RXNORM, "253337"), (ATC[0], "L01FG01"), (ATC[0], "L01XC07")])
def test_bevacizumab_code(code):
    assert mapped(med(*code, end=days_ago(100))).values["prior_bevacizumab"] is True


def test_bevacizumab_class_not_taken():
    assert mapped(med(ATC[0], "L01FG", "not-taken")).values["prior_bevacizumab"] is False


STEROIDS = [(RXNORM, c) for c in ("3264", "5492", "6902", "8640", "8638", "10759", "1514")]
STEROIDS += [(ATC[0], "H02AB02"), (ATC[1], "H02AB07")]


@pytest.mark.parametrize("code", STEROIDS, ids="|".join)
def test_systemic_steroid_code(code):
    assert mapped(med(*code, "active", start=days_ago(10))).values["steroids_last_4_weeks"] is True
    old = mapped(med(*code, start=days_ago(90), end=days_ago(40)))
    assert old.values["steroids_last_4_weeks"] is False


@pytest.mark.parametrize("code", ["H02AB", "H02"])
def test_steroid_class_not_taken(code):
    assert mapped(med(ATC[0], code, "not-taken")).values["steroids_last_4_weeks"] is False


def test_steroid_by_a_topical_route_is_not_systemic():
    skin = {"dosage": [{"route": cc(SNOMED, "6064005")}]}
    row = mapped(med(RXNORM, "10759", "active", start=days_ago(3), **skin))
    assert "not a systemic route" in row.unknown["steroids_last_4_weeks"]


@pytest.mark.parametrize("code", ["L01AA01", "L01BC05", "L01CA02", "L01DB01", "L01XA01"])
def test_cytotoxic_chemotherapy_atc(code):
    row = mapped(med(ATC[0], code, start=days_ago(30), end=days_ago(21)))
    assert row.values["chemo_radio_last_6_weeks"] is True


@pytest.mark.parametrize("code", ["447115003", "446103006", "230859007"])
def test_brain_surgery_code_treats_brain_metastases(code):
    row = mapped(metastasis((SNOMED, "12738006")), proc(code))
    assert row.values["brain_mets_untreated"] is False


UNIT_CASES = [
    ("creatinine", 1.0, "mg/dL", 1.0),
    ("creatinine", 88.42, "umol/L", 1.0),
    ("creatinine", 88.42, "µmol/L", 1.0),
    ("creatinine", 0.17684, "mmol/L", 2.0),
    ("creatinine", 12.0, "mg/L", 1.2),
    ("calcium", 9.0, "mg/dL", 9.0),
    ("calcium", 2.495, "mmol/L", 10.0),
    ("calcium", 90.0, "mg/L", 9.0),
    ("albumin", 4.0, "g/dL", 4.0),
    ("albumin", 40.0, "g/L", 4.0),
    ("hemoglobin", 130.0, "g/L", 130.0),
    ("hemoglobin", 13.0, "g/dL", 130.0),
    ("hemoglobin", 13.0, "g/dl", 130.0),
    ("hemoglobin", 8.0, "mmol/L", 128.88),
    ("ldh", 250.0, "U/L", 250.0),
    ("ldh", 4.0, "ukat/L", 240.0),
    ("ldh", 4.0, "µkat/L", 240.0),
    ("count", 7.5, "10*9/L", 7.5),
    ("count", 7.5, "10^9/L", 7.5),
    ("count", 7.5, "10*3/uL", 7.5),
    ("count", 7.5, "10*3/mm3", 7.5),
    ("count", 7500.0, "/uL", 7.5),
    ("count", 7500.0, "/mm3", 7.5),
    ("volume", 2.5, "L", 2.5),
    ("volume", 2500.0, "mL", 2.5),
    ("percent", 75.0, "%", 75.0),
]


def test_every_accepted_unit_has_a_case():
    tested = {(q, u) for q, _, u, _ in UNIT_CASES}
    assert {(q, u) for q, (_, units) in CONVERSIONS.items() for u in units} <= tested


@pytest.mark.parametrize(("quantity", "value", "unit", "expected"), UNIT_CASES)
def test_unit_conversion(quantity, value, unit, expected):
    assert convert(quantity, value, unit) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("resource", "column", "expected"),
    [
        (lab("14682-9", 159.16, "umol/L"), "creatinine_mg_dl", 1.8),
        (lab("718-7", 125, "g/L", low=13.0, **{}) | {"referenceRange": [
            {"low": {"value": 13.0, "unit": "g/dL"}}]}, "hemoglobin_below_lln", True),
        (lab("2532-0", 6.0, "ukat/L") | {"referenceRange": [{"high": {"value": 250,
         "unit": "U/L"}}]}, "ldh_uln_ratio", 1.44),
        (lab("751-8", 9000, "/uL", high=7.5) | {"referenceRange": [{"high": {"value": 7.5,
         "unit": "10*9/L"}}]}, "neutrophils_above_uln", True),
        (lab("20150-9", 1700, "mL"), "fev1_litres", 1.7),
    ],
    ids=["creatinine-umol", "hb-g/L-against-g/dL", "ldh-ukat-against-U/L", "anc-per-uL",
         "fev1-mL"],
)  # fmt: skip
def test_unit_conversion_in_a_resource(resource, column, expected):
    """Value and reference range in different units are compared in one."""
    assert mapped(resource).values[column] == pytest.approx(expected)


def test_a_unit_not_accepted_is_unknown_and_named():
    row = mapped(lab("2160-0", 1.0, "mg/mL"))
    assert row.values["creatinine_mg_dl"] is None
    assert "'mg/mL' is not one of mg/dL, umol/L" in row.unknown["creatinine_mg_dl"]


def _every_code() -> set[str]:
    found = {code for _, code in codes.OBSERVATIONS}
    found |= set(codes.ECOG_ANSWERS) | set(codes.KARNOFSKY_ANSWERS)
    found |= set(codes.HISTOLOGY_ICDO3) | set(codes.HISTOLOGY_UNSPECIFIC) | set(codes.RCC_SNOMED)
    found |= {code for _, code in codes.BODY_SITES} | {codes.SECONDARY_SNOMED}
    found |= {code for _, code in codes.FINDING_ABNORMAL | codes.FINDING_NORMAL}
    for table in (codes.CARDIAC_UMBRELLA, codes.INFECTION_SNOMED, codes.ALLOGRAFT_SNOMED,
                  codes.ALLOGRAFT_PROCEDURES, codes.NEPHRECTOMY, codes.RADIOTHERAPY,
                  codes.CHEMOTHERAPY, codes.BRAIN_SURGERY, codes.STEROID_RXNORM,
                  codes.SYSTEMIC_ROUTES):  # fmt: skip
        found |= set(table)
    for snomed, _ in codes.CARDIAC_COMPONENTS.values():
        found |= set(snomed)
    for rxnorm, atc in [*codes.TKI_DRUGS.values(), codes.BEVACIZUMAB]:
        found |= rxnorm | atc
    found |= set(codes.TKI_CLASSES) | set(codes.BEVACIZUMAB_CLASSES) | set(codes.STEROID_CLASSES)
    return found


def test_the_readme_mapping_table_lists_every_code():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## FHIR input") : readme.index("## Layout")]
    missing = sorted(code for code in _every_code() if f"`{code}`" not in section)
    assert not missing, missing
