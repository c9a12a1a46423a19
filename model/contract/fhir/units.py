"""UCUM units of the quantities the FHIR mapping reads, converted to the unit each contract
column (or the rule behind it) uses.

Only the units below are accepted (the UCUM code, or its common printed form: ``µ`` for
``u``, ``10^9/L`` for ``10*9/L``, any letter case); any other unit makes the value unknown
and is named, never guessed. Molar conversions use the molar masses clinical laboratories
use: creatinine 113.12 g/mol (1 mg/dL = 88.42 µmol/L), calcium 40.08 g/mol (1 mmol/L =
4.008 mg/dL, i.e. mg/dL × 0.2495), haemoglobin monomer 16.11 g/mmol (1 mmol/L = 1.611 g/dL).
"""

from __future__ import annotations

CREATININE_UMOL_PER_MG_DL = 88.42
CALCIUM_MMOL_PER_MG_DL = 0.2495
HEMOGLOBIN_G_PER_MMOL = 16.11
LDH_U_PER_UKAT = 60.0  # 1 U = 1 µmol/min = 1/60 µkat

# quantity -> (target unit, {accepted UCUM code: factor to the target unit})
CONVERSIONS: dict[str, tuple[str, dict[str, float]]] = {
    "creatinine": (
        "mg/dL",
        {
            "mg/dL": 1.0,
            "umol/L": 1.0 / CREATININE_UMOL_PER_MG_DL,
            "mmol/L": 1000.0 / CREATININE_UMOL_PER_MG_DL,
            "mg/L": 0.1,
        },
    ),
    "calcium": ("mg/dL", {"mg/dL": 1.0, "mmol/L": 1.0 / CALCIUM_MMOL_PER_MG_DL, "mg/L": 0.1}),
    "albumin": ("g/dL", {"g/dL": 1.0, "g/L": 0.1}),
    "hemoglobin": ("g/L", {"g/L": 1.0, "g/dL": 10.0, "mmol/L": HEMOGLOBIN_G_PER_MMOL}),
    "ldh": ("U/L", {"U/L": 1.0, "ukat/L": LDH_U_PER_UKAT}),
    "count": (
        "10*9/L",
        {"10*9/L": 1.0, "10*3/uL": 1.0, "10*3/mm3": 1.0, "/uL": 0.001, "/mm3": 0.001},
    ),
    "volume": ("L", {"L": 1.0, "mL": 0.001}),
    "percent": ("%", {"%": 1.0}),
}
_PRINTED = {"10^9/L": "10*9/L", "10^3/uL": "10*3/uL", "10^3/mm3": "10*3/mm3"}
_FOLDED = {q: {code.lower(): code for code in units} for q, (_, units) in CONVERSIONS.items()}


def canonical_unit(quantity: str, unit: str | None) -> str | None:
    """The accepted UCUM code ``unit`` stands for, or None when it is not accepted."""
    if not unit:
        return None
    accepted = CONVERSIONS[quantity][1]
    if unit in accepted:
        return unit
    text = unit.strip().replace("µ", "u").replace("μ", "u")
    text = _PRINTED.get(text, text)
    return text if text in accepted else _FOLDED[quantity].get(text.lower())


def convert(quantity: str, value: float, unit: str | None) -> float | None:
    """``value`` in ``unit`` converted to the target unit of ``quantity`` (None: unit not
    accepted)."""
    code = canonical_unit(quantity, unit)
    if code is None:
        return None
    return float(value) * CONVERSIONS[quantity][1][code]


def accepted_units(quantity: str) -> str:
    return ", ".join(CONVERSIONS[quantity][1])
