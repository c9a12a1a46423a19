"""The FHIR codes the contract mapping reads (``model.contract.fhir``), written once.

Every code is ``(system, code, display)`` with the contract column it feeds; the README's
"FHIR input" table and the per-code tests are generated from or checked against these
tables. Sources: LOINC and the mCODE STU2–4 profiles (ECOG 89247-1, Karnofsky 89243-0 with
their LOINC answer lists, secondary cancer condition, histology-morphology-behavior
extension), ICD-O-3 (renal morphology), SNOMED CT, ICD-10(-CM), RxNorm ingredients, WHO ATC
(2021 and pre-2021 codes: the L01XE → L01EX, L01XC → L01FG reclassification). Codes with no
standard (CAIX share, histological pattern shares, "another organ") use this project's
code system ``IL2SELECT``.
"""

from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm")
ICDO3 = ("http://terminology.hl7.org/CodeSystem/icd-o-3", "urn:oid:2.16.840.1.113883.6.43.1")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = ("http://www.whocc.no/atc", "http://fhir.de/CodeSystem/bfarm/atc")
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
IL2SELECT = "https://il2select.example.org/fhir/CodeSystem/il2select"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
HISTOLOGY_EXTENSION = MCODE + "mcode-histology-morphology-behavior"
ASSERTED_DATE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/condition-assertedDate"
SECONDARY_PROFILE = MCODE + "mcode-secondary-cancer-condition"

# Observation kinds: LOINC (or project) code -> (kind, display). A kind is read by
# model.contract.fhir.observations into one contract column (calcium and albumin together).
OBSERVATIONS: dict[tuple[str, str], tuple[str, str]] = {
    (LOINC, "89247-1"): ("ecog", "ECOG Performance Status score"),
    (LOINC, "89243-0"): ("karnofsky", "Karnofsky Performance Status score"),
    (LOINC, "2532-0"): ("ldh", "Lactate dehydrogenase [Enzymatic activity/volume] in S or P"),
    (LOINC, "14804-9"): ("ldh", "LDH [Enzymatic activity/volume] in S or P by L->P reaction"),
    (LOINC, "14805-6"): ("ldh", "LDH [Enzymatic activity/volume] in S or P by P->L reaction"),
    (LOINC, "718-7"): ("hemoglobin", "Hemoglobin [Mass/volume] in Blood"),
    (LOINC, "59260-0"): ("hemoglobin", "Hemoglobin [Moles/volume] in Blood"),
    (LOINC, "751-8"): ("neutrophils", "Neutrophils [#/volume] in Blood by Automated count"),
    (LOINC, "26499-4"): ("neutrophils", "Neutrophils [#/volume] in Blood"),
    (LOINC, "777-3"): ("platelets", "Platelets [#/volume] in Blood by Automated count"),
    (LOINC, "26515-7"): ("platelets", "Platelets [#/volume] in Blood"),
    (LOINC, "17861-6"): ("calcium", "Calcium [Mass/volume] in Serum or Plasma"),
    (LOINC, "2000-8"): ("calcium", "Calcium [Moles/volume] in Serum or Plasma"),
    (LOINC, "29265-6"): ("calcium_corrected", "Calcium [Moles/volume] corrected for albumin"),
    (LOINC, "1751-7"): ("albumin", "Albumin [Mass/volume] in Serum or Plasma"),
    (LOINC, "61151-7"): ("albumin", "Albumin [Mass/volume] in S or P by BCG"),
    (LOINC, "61152-5"): ("albumin", "Albumin [Mass/volume] in S or P by BCP"),
    (LOINC, "2160-0"): ("creatinine", "Creatinine [Mass/volume] in Serum or Plasma"),
    (LOINC, "38483-4"): ("creatinine", "Creatinine [Mass/volume] in Blood"),
    (LOINC, "14682-9"): ("creatinine", "Creatinine [Moles/volume] in Serum or Plasma"),
    (LOINC, "20150-9"): ("fev1", "FEV1"),
    (LOINC, "20152-5"): ("fev1_pct", "FEV1 measured/predicted"),
    (IL2SELECT, "caix-pct"): ("caix", "CAIX-positive tumour cells (IHC), % of tumour cells"),
    (IL2SELECT, "alveolar-pct"): ("alveolar", "alveolar architecture, % of tumour"),
    (IL2SELECT, "solid-pct"): ("solid", "solid architecture, % of tumour"),
    (IL2SELECT, "papillary-pct"): ("papillary", "papillary architecture, % of tumour"),
    (IL2SELECT, "granular-pct"): ("granular", "granular cytology, % of tumour"),
    (CPT, "93350"): ("stress_test", "Stress echocardiography"),
    (IL2SELECT, "cardiac-stress-test"): ("stress_test", "cardiac stress test (LVEF, wall motion)"),
}
# kind -> contract column (calcium, albumin and a direct corrected calcium share one)
KIND_COLUMN = {
    "ecog": "ecog",
    "karnofsky": "karnofsky",
    "ldh": "ldh_uln_ratio",
    "hemoglobin": "hemoglobin_below_lln",
    "neutrophils": "neutrophils_above_uln",
    "platelets": "platelets_above_uln",
    "calcium": "corrected_calcium_mg_dl",
    "calcium_corrected": "corrected_calcium_mg_dl",
    "albumin": "corrected_calcium_mg_dl",
    "creatinine": "creatinine_mg_dl",
    "fev1": "fev1_litres",
    "fev1_pct": "fev1_pct_predicted",
    "caix": "caix_pct",
    "alveolar": "alveolar_pct",
    "solid": "solid_pct",
    "papillary": "papillary_pct",
    "granular": "granular_pct",
    "stress_test": "cardiac_stress_abnormal",
}

# mCODE: the score is valueInteger, its LOINC answer in interpretation (STU1 ballot: value).
ECOG_ANSWERS = {
    "LA9622-7": 0,
    "LA9623-5": 1,
    "LA9624-3": 2,
    "LA9625-0": 3,
    "LA9626-8": 4,
    "LA9627-6": 5,  # dead (outside the contract's 0-4: validation names it)
}
KARNOFSKY_ANSWERS = {
    "LA29175-9": 100,
    "LA29176-7": 90,
    "LA29177-5": 80,
    "LA29178-3": 70,
    "LA29179-1": 60,
    "LA29180-9": 50,
    "LA29181-7": 40,
    "LA29182-5": 30,
    "LA29183-3": 20,
    "LA29184-1": 10,
    "LA9627-6": 0,
}
# v3 ObservationInterpretation: below the lower / above the upper limit, or within range
INTERPRETATION_LOW = frozenset({"L", "LL", "LU"})
INTERPRETATION_HIGH = frozenset({"H", "HH", "HU"})
INTERPRETATION_NORMAL = frozenset({"N"})
INTERPRETATION_ABNORMAL = frozenset({"A", "AA"}) | INTERPRETATION_LOW | INTERPRETATION_HIGH
FINDING_ABNORMAL = {(SNOMED, "263654008"), (SNOMED, "373066001")}  # Abnormal; Yes
FINDING_NORMAL = {(SNOMED, "17621005"), (SNOMED, "373067005")}  # Normal; No

# The RCC primary: kidney cancer codes (ICD-10 C64 by prefix) and its ICD-O-3 morphology.
RCC_SNOMED = {"363518003": "Malignant tumor of kidney"}
RCC_ICD10_PREFIX = "C64"
HISTOLOGY_ICDO3 = {
    "8310/3": ("clear_cell", "Clear cell adenocarcinoma, NOS"),
    "8260/3": ("papillary", "Papillary adenocarcinoma, NOS"),
    "8317/3": ("chromophobe", "Renal cell carcinoma, chromophobe type"),
    "8270/3": ("chromophobe", "Chromophobe carcinoma"),
    "8319/3": ("other", "Collecting duct carcinoma"),
    "8510/3": ("other", "Medullary carcinoma, NOS"),
    "8316/3": ("other", "Cyst-associated renal cell carcinoma"),
    "8318/3": ("other", "Renal cell carcinoma, sarcomatoid"),
}
HISTOLOGY_UNSPECIFIC = {"8312/3": "Renal cell carcinoma, NOS (the subtype is not named)"}

# Metastatic sites: mCODE secondary cancer conditions and the organ of their body site.
SECONDARY_SNOMED = "128462008"  # Secondary malignant neoplastic disease
SECONDARY_ICD10_PREFIXES = ("C77", "C78", "C79")
SITE_COLUMNS = ("met_lung", "met_bone", "met_liver", "met_lymph_node", "met_brain", "met_other")
BODY_SITES = {
    (SNOMED, "39607008"): ("met_lung", "Lung structure"),
    (SNOMED, "272673000"): ("met_bone", "Bone structure"),
    (SNOMED, "10200004"): ("met_liver", "Liver structure"),
    (SNOMED, "59441001"): ("met_lymph_node", "Structure of lymph node"),
    (SNOMED, "12738006"): ("met_brain", "Brain structure"),
    (SNOMED, "23451007"): ("met_other", "Adrenal structure"),
    (SNOMED, "15425007"): ("met_other", "Structure of serous membrane of peritoneum"),
    (SNOMED, "87784001"): ("met_other", "Soft tissue"),
    (SNOMED, "15776009"): ("met_other", "Pancreatic structure"),
    (IL2SELECT, "other-organ"): (
        "met_other",
        "an organ other than lung, bone, liver, lymph node and brain",
    ),
}
# ICD-10(-CM) secondary codes that name the organ (prefix -> column); other C77-C79 codes
# name an organ outside the five (met_other) except C79.9 (site unspecified)
SECONDARY_ICD10_SITES = {
    "C78.0": "met_lung",
    "C78.7": "met_liver",
    "C79.31": "met_brain",
    "C79.5": "met_bone",
    "C77": "met_lymph_node",
}
SECONDARY_ICD10_UNSPECIFIED = ("C79.9", "C80")
BRAIN_SURGERY = {
    "447115003": "Total excision of lesion of brain tissue",
    "446103006": "Partial excision of lesion of brain",
    "230859007": "Destruction of brain tumor",
}

# Conditions behind flags: SNOMED codes and ICD-10 prefixes; "umbrella" codes, refuted,
# deny the whole group (a refuted heart failure alone does not deny an arrhythmia).
CARDIAC_COMPONENTS = {
    "heart_failure": ({"84114007": "Heart failure"}, ("I50",)),
    "arrhythmia": (
        {"698247007": "Cardiac arrhythmia", "49436004": "Atrial fibrillation"},
        ("I47", "I48", "I49"),
    ),
    "ischaemia": (
        {"414545008": "Ischemic heart disease", "22298006": "Myocardial infarction"},
        ("I20", "I21", "I22", "I23", "I24", "I25"),
    ),
}
CARDIAC_UMBRELLA = {"56265001": "Heart disease"}
INFECTION_SNOMED = {"40733004": "Infectious disease", "233604007": "Pneumonia"}
INFECTION_ICD10_PREFIXES = ("A", "B", "J18", "N39.0")
INFECTION_UMBRELLA = {"40733004": "Infectious disease"}
ALLOGRAFT_SNOMED = {"161663000": "History of being a tissue or organ recipient"}
ALLOGRAFT_ICD10_PREFIXES = ("Z94.0", "Z94.1", "Z94.2", "Z94.3", "Z94.4", "Z94.82", "Z94.83")
ALLOGRAFT_PROCEDURES = {
    "313039003": "Solid organ transplant",
    "70536003": "Transplant of kidney",
}

# Procedures
NEPHRECTOMY = {
    "175905003": "Total nephrectomy",
    "116033007": "Radical nephrectomy",
    "81516001": "Partial nephrectomy",
}
RADIOTHERAPY = {"108290001": "Radiation oncology AND/OR radiotherapy"}
CHEMOTHERAPY = {"367336001": "Chemotherapy"}

# Medications: RxNorm ingredients, ATC substances (2021 and earlier), ATC classes whose
# "not taken" statement denies every drug of the class.
TKI_DRUGS = {
    "sunitinib": ({"357977"}, {"L01EX01", "L01XE04"}),
    "sorafenib": ({"495881"}, {"L01EX02", "L01XE05"}),
    "pazopanib": ({"714438"}, {"L01EX03", "L01XE11"}),
}
TKI_CLASSES = ("L01EX", "L01E", "L01")
BEVACIZUMAB = ({"253337"}, {"L01FG01", "L01XC07"})
BEVACIZUMAB_CLASSES = ("L01FG", "L01F", "L01")
STEROID_RXNORM = {
    "3264": "dexamethasone",
    "5492": "hydrocortisone",
    "6902": "methylprednisolone",
    "8640": "prednisone",
    "8638": "prednisolone",
    "10759": "triamcinolone",
    "1514": "betamethasone",
}
STEROID_ATC_PREFIX = "H02AB"  # glucocorticoids for systemic use
STEROID_CLASSES = ("H02AB", "H02")
CHEMO_ATC_PREFIXES = ("L01A", "L01B", "L01C", "L01D", "L01XA")  # cytotoxic, not TKIs/antibodies
CHEMO_CLASSES = ("L01",)
SYSTEMIC_ROUTES = {
    "26643006": "Oral route",
    "47625008": "Intravenous route",
    "78421000": "Intramuscular route",
    "34206005": "Subcutaneous route",
}
