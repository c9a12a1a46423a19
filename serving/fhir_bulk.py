"""A FHIR Bulk Data export (a folder of NDJSON files, one resource type each) as a patient
table: one row per Patient, every contract column as the text a CSV read gives, so that
``validate_table`` accounts for bad rows exactly as for a CSV.

Beside the contract columns each row carries ``fhir_unknown`` (column: why it is unknown
and what would settle it), ``fhir_resources`` (the resources the row rests on, with their
dates) and ``fhir_invalid`` (resources that are not valid FHIR R4). The export is read
whole (a clinic's list, not a registry: a million patients would need streaming by
patient, which NDJSON split by type does not allow without an index). Reading files is
table I/O, so it lives here beside ``serving.tables``; the mapping of one patient's
resources stays in the core (``model.contract.fhir``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from model.contract.columns import FEATURE_COLUMNS
from model.contract.errors import ContractError
from model.contract.fhir import MappedPatient, patient_from_resources
from model.contract.fhir.read import group_by_patient

EXTRA_COLUMNS = ("fhir_unknown", "fhir_resources", "fhir_invalid")


def read_bulk_export(folder: Path, reference_date: date | None = None) -> pd.DataFrame:
    """The export in ``folder`` as a table of text cells, in the order of its Patients.

    Resources that name no Patient of the export are left out and listed in
    ``frame.attrs["fhir_orphans"]``.

    Raises
    ------
    ContractError
        when the folder holds no ``.ndjson`` file or a line is not a JSON object.
    """
    resources = list(_resources(folder))
    groups, shared = group_by_patient(resources)
    rows, orphans = [], []
    for key, group in groups:
        if not any(r.get("resourceType") == "Patient" for r in group):
            orphans.append(f"{key}: {len(group)} resource(s) without its Patient")
            continue
        rows.append(table_row(patient_from_resources(group + shared, reference_date)))
    frame = pd.DataFrame(rows, columns=[*FEATURE_COLUMNS, *EXTRA_COLUMNS], dtype=object)
    frame.attrs["fhir_orphans"] = orphans
    return frame


def table_row(mapped: MappedPatient) -> dict[str, str]:
    """One mapped patient as text cells (``true``/``false``, numbers, empty = unknown)."""
    row = {name: cell(mapped.values.get(name)) for name in FEATURE_COLUMNS}
    row["fhir_unknown"] = " | ".join(f"{k}: {v}" for k, v in mapped.unknown.items())
    row["fhir_resources"] = " ".join(
        f"{r['resourceType']}/{r['id']}" + (f"@{r['date']}" if r["date"] else "")
        for r in mapped.used
    )
    row["fhir_invalid"] = " | ".join(
        f"{r['resourceType']}/{r['id']}: {r['error']}" for r in mapped.invalid
    )
    return row


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _resources(folder: Path):
    files = sorted(folder.glob("*.ndjson"), key=lambda p: (not p.name.startswith("Patient"), p))
    if not files:
        raise ContractError(
            f"{folder}: no .ndjson files (a FHIR Bulk Data export holds Type.ndjson files)",
            value=str(folder),
            rule="bulk data export",
        )
    for path in files:
        with path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    resource = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise _bad_line(path, number, f"not JSON ({exc})") from None
                if not isinstance(resource, dict):
                    raise _bad_line(path, number, "not a JSON object")
                yield resource


def _bad_line(path: Path, number: int, why: str) -> ContractError:
    return ContractError(f"{path}:{number}: {why}", value=str(path), rule="NDJSON")
