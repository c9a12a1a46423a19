"""FHIR R4 → the data contract: one mapping, used by the CLI (Bulk Data exports), the
service (FHIR Bundles on ``/recommend``) and the CDS Hooks prefetch. ``mapping`` is the
entry point; the code tables are in ``codes`` (the README's "FHIR input" lists them)."""

from model.contract.fhir.mapping import (
    MappedPatient,
    patient_from_resources,
    patients_from_bundle,
    warm_up,
)

__all__ = ["MappedPatient", "patient_from_resources", "patients_from_bundle", "warm_up"]
