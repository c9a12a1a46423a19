"""Playing the HL7 CDS Hooks sandbox (the reference client): its JWT, signed with the shared
keypair exactly as the sandbox signs it (``../shared/cds-hooks/README.md``), and hook calls
whose prefetch is built from FHIR R4 resources of clinic-list patients
(``data/synthetic/fhir_export.py``), each validated by ``fhir.resources``. For the tests and
``bench/cds_hooks.py``."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date
from pathlib import Path

import jwt
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "cds-hooks"
SANDBOX = "https://sandbox.cds-hooks.org"
SANDBOX_JWKS = SHARED / "sandbox-jwks.json"
CLINIC_LIST = REPO / "data" / "synthetic" / "samples" / "clinic_list.csv"
SERVICE_PATH = "/cds-services/il2select-first-line"
PREFETCH_TYPES = {  # prefetch key -> the resource types its search returns
    "conditions": ("Condition",),
    "observations": ("Observation",),
    "procedures": ("Procedure",),
    "medications": ("MedicationStatement", "Medication"),
}


def issuers_env() -> str:
    """``IL2SELECT_CDS_ISSUERS`` trusting the sandbox through its local JWK Set."""
    return json.dumps({SANDBOX: str(SANDBOX_JWKS)})


def sandbox_key() -> dict:
    return json.loads((SHARED / "sandbox-jwk-keypair.json").read_text())["keys"][0]


_SIGNING_KEY = None


def sandbox_jwt(aud, **changes) -> str:
    """A JWT as the sandbox signs it: ES384, its kid and jku; iss, aud (the URL called),
    exp = now + 300, iat = now, a fresh jti. ``changes`` override claims (None drops one)."""
    global _SIGNING_KEY
    key = sandbox_key()
    if _SIGNING_KEY is None:
        _SIGNING_KEY = jwt.PyJWK(key).key
    now = int(time.time())
    claims = {"iss": SANDBOX, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    claims = {k: v for k, v in {**claims, **changes}.items() if v is not None}
    headers = {"kid": key["kid"], "jku": f"{SANDBOX}/.well-known/jwks.json", "typ": "JWT"}
    return jwt.encode(claims, _SIGNING_KEY, algorithm="ES384", headers=headers)


def validated(resource: dict) -> dict:
    """The resource, once ``fhir.resources`` (R4B models) has accepted it."""
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def clinic_resources(reference_date: date | None = None) -> dict[str, list[dict]]:
    """Each clinic-list patient's FHIR resources (validated), by ``patient_id``."""
    from data.synthetic.fhir_export import table_resources

    raw = pd.read_csv(CLINIC_LIST, dtype=str, keep_default_na=False)
    groups = table_resources(raw, reference_date or date.today())
    out = {}
    for row, resources in zip(raw.to_dict("records"), groups, strict=True):
        if row["patient_id"]:
            out[row["patient_id"]] = [validated(r) for r in resources]
    return out


def searchset(resources: list[dict]) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"https://ehr.example.org/fhir/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def prefetch_of(resources: list[dict]) -> dict:
    """The prefetch a client sends for the service's templates: the Patient (a read) and
    a searchset Bundle per search."""
    (patient,) = [r for r in resources if r["resourceType"] == "Patient"]
    prefetch = {"patient": patient}
    for key, kinds in PREFETCH_TYPES.items():
        prefetch[key] = searchset([r for r in resources if r["resourceType"] in kinds])
    return prefetch


def hook_call(resources: list[dict], **prefetch_changes) -> dict:
    """A ``patient-view`` call as the sandbox makes it; ``prefetch_changes`` replace keys
    (the value ``...`` leaves a key out)."""
    (patient,) = [r for r in resources if r["resourceType"] == "Patient"]
    prefetch = {**prefetch_of(resources), **prefetch_changes}
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "fhirServer": "https://ehr.example.org/fhir",
        "context": {"userId": "Practitioner/board-1", "patientId": patient["id"]},
        "prefetch": {k: v for k, v in prefetch.items() if v is not ...},
    }
