"""CDS Hooks against a real server, playing the HL7 sandbox: its JWT signed with the shared
keypair, discovery, and ``patient-view`` calls whose prefetch is built from FHIR R4
resources (validated by ``fhir.resources``) of clinic-list patients. The cards' numbers
equal ``/recommend`` on the same patients in contract form (1e-9); responses hold to the
CDS Hooks shapes; every refusal the specification asks for is a 401; a missing prefetch
key is a 412; feedback lands in the audit log beside its answer; CORS preflights pass; a
FHIR Bundle on ``/recommend`` answers as the contract form, and the audit log names the
resources every answer from FHIR was computed from."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import signal
import time
import uuid
from datetime import date

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from model.contract.fhir import patient_from_resources
from serving.audit_store import read_notes, read_records
from serving.cds_cards import ANSWER_EXTENSION
from tests.cds_hooks_client import (
    SANDBOX,
    SANDBOX_JWKS,
    SERVICE_PATH,
    clinic_resources,
    hook_call,
    issuers_env,
    sandbox_jwt,
    sandbox_key,
    searchset,
)
from tests.cds_hooks_schema import check_discovery, check_response
from tests.integration.service_fixtures import (
    REPO,
    assert_close,
    clean_env,
    clinic_patients,
    free_port,
    run_cli,
    start_server,
)

PATIENTS = ("MAN-001", "MAN-008", "MAN-019", "MAN-025", "MAN-027", "MAN-030", "MAN-040")
MONTHS_TO_THE_DAY = 0.05  # FHIR dates carry months to the day: 24 months -> 24.02
ROWS = ("P(response)", "P(complete response)", "P(cure)", "P(severe cardiac toxicity)")
KEYS = ("p_response", "p_complete_response", "p_cure", "p_severe_cardiac_toxicity")
ORIGIN = "https://sandbox.cds-hooks.org"


@pytest.fixture(scope="module")
def cds(champion_tracking_uri, tmp_path_factory):
    """A real ``il2select serve`` trusting the sandbox, its public URL its own."""
    port = free_port()
    env = {
        "IL2SELECT_CDS_ISSUERS": issuers_env(),
        "IL2SELECT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IL2SELECT_CHAMPION_POLL_S": "0",
    }
    folder = tmp_path_factory.mktemp("cds-hooks")
    server = start_server(champion_tracking_uri, folder, port=port, extra_env=env)
    yield server
    server.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def clinic() -> dict[str, list[dict]]:
    return clinic_resources(date.today())


def call(server, body: dict, token: str | None = "", path: str = SERVICE_PATH, **headers):
    url = server.url + path
    token = sandbox_jwt(url) if token == "" else token
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return httpx.post(url, json=body, headers=headers, timeout=60)


def note_of(server, request_id: str, kind: str) -> dict:
    (note,) = [
        n
        for n in read_notes(server.audit_db)
        if n["request_id"] == request_id and n["kind"] == kind
    ]
    return note


def test_discovery(cds):
    for headers in ({}, {"authorization": f"Bearer {sandbox_jwt(cds.url + '/cds-services')}"}):
        response = httpx.get(cds.url + "/cds-services", headers=headers)
        assert response.status_code == 200
        (service,) = check_discovery(response.json()).services
        assert (service.hook, service.id) == ("patient-view", "il2select-first-line")
        assert set(service.prefetch) == {
            "patient",
            "conditions",
            "observations",
            "procedures",
            "medications",
        }


@pytest.mark.parametrize("patient_id", PATIENTS)
def test_cards_equal_recommend_in_contract_form(cds, clinic, patient_id):
    resources = clinic[patient_id]
    response = call(cds, hook_call(resources))
    assert response.status_code == 200, response.text
    document = response.json()
    (card,) = check_response(document).cards
    mapped = patient_from_resources(resources, date.today())
    _carries_the_clinic_row(mapped.values, patient_id)
    with cds.client() as client:
        expected = client.post("/recommend", json=mapped.values).json()
    answer = card.extension[ANSWER_EXTENSION]
    assert_close(answer, expected)
    _shown_numbers_are_the_answers(card.detail, expected)
    eligibility = expected["eligibility"]
    warn = eligibility["contraindications"] or expected["provisional"]
    assert card.indicator == ("warning" if warn or eligibility["il2_eligible"] is None else "info")
    assert expected["provenance"]["model_version"] in card.source.label
    assert str(card.source.url).endswith(("/model/card", "/model"))
    _audited(cds, response.headers["x-il2select-audit-id"], document, mapped, expected)


def _carries_the_clinic_row(values: dict, patient_id: str) -> None:
    """The FHIR resources carry every input of the clinic row (months to the day)."""
    (row,) = [p for p in clinic_patients() if p["patient_id"] == patient_id]
    for name, value in row.items():
        if name.startswith("months_") and value is not None:
            assert abs(values[name] - value) <= MONTHS_TO_THE_DAY, name
        else:
            assert values.get(name) == value, name


def _shown_numbers_are_the_answers(detail: str, answer: dict) -> None:
    lines = {line.split("|")[1].strip(): line for line in detail.splitlines() if "|" in line}
    for label, key in zip(ROWS, KEYS, strict=True):
        expected = []
        for strategy in ("il2", "tki"):
            estimate = answer[strategy][key]
            if estimate is not None:
                expected += [estimate["value"], estimate["lo"], estimate["hi"]]
        shown = [float(x) for x in re.findall(r"\d+\.\d+", lines[label].split("|", 2)[2])]
        assert len(shown) == len(expected), label
        assert all(
            math.isclose(a, b, abs_tol=1e-9) for a, b in zip(shown, expected, strict=True)
        ), label


def _audited(server, request_id: str, document: dict, mapped, answer: dict) -> None:
    (record,) = [r for r in read_records(server.audit_db) if r["request_id"] == request_id]
    assert record["endpoint"] == "cds-hooks" and record["token_id"] == f"cds:{SANDBOX}"
    assert record["output"] == document
    assert record["model_version"] == answer["provenance"]["model_version"]
    note = note_of(server, request_id, "fhir_sources")["note"]
    assert note["resources"] == mapped.used and note["resources"][0]["resourceType"] == "Patient"
    assert all({"resourceType", "id", "date"} <= set(r) for r in note["resources"])


def test_a_record_without_required_inputs_gives_a_card_that_says_so(cds, clinic):
    resources = [r for r in clinic["MAN-001"] if not r["id"].endswith("-ecog")]
    response = call(cds, hook_call(resources))
    assert response.status_code == 200, response.text
    (card,) = check_response(response.json()).cards
    assert card.indicator == "warning" and card.extension is None
    assert "cannot assess" in card.summary and "89247-1" in card.detail


def hs256_with_the_public_key(url: str) -> str:
    public = json.dumps(json.loads(SANDBOX_JWKS.read_text())["keys"][0]).encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": sandbox_key()["kid"]}
    now = int(time.time())
    claims = {"iss": SANDBOX, "aud": url, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    parts = [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode())]
    signing = ".".join(parts).encode()
    return ".".join([*parts, _b64(hmac.new(public, signing, hashlib.sha256).digest())])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refused_tokens(url: str) -> dict:
    now = int(time.time())
    key = sandbox_key()
    other = ec.generate_private_key(ec.SECP384R1())
    claims = {"iss": SANDBOX, "aud": url, "exp": now + 300, "iat": now}
    none = jwt.encode({**claims, "jti": str(uuid.uuid4())}, None, algorithm="none")
    return {
        "no JWT": (None, "no bearer token"),
        "expired": (sandbox_jwt(url, exp=now - 120, iat=now - 420), "expired"),
        "wrong aud": (sandbox_jwt(url + "/feedback"), "aud must be"),
        "unknown issuer": (
            jwt.encode({**claims, "iss": "https://evil.example.org", "jti": "x"}, other, "ES384"),
            "not a trusted",
        ),
        "unknown kid": (
            jwt.encode({**claims, "jti": str(uuid.uuid4())}, jwt.PyJWK(key).key, "ES384"),
            "kid names no key",
        ),
        "alg none": (none, "alg 'none' is refused"),
        "HS256 signed with the public key": (hs256_with_the_public_key(url), "'HS256' is refused"),
    }


def test_refusals_are_401_with_an_operation_outcome(cds, clinic):
    url = cds.url + SERVICE_PATH
    body = hook_call(clinic["MAN-001"])
    before = sum(1 for _ in read_records(cds.audit_db))
    for name, (token, words) in refused_tokens(url).items():
        response = call(cds, body, token=token)
        assert response.status_code == 401, name
        (issue,) = response.json()["issue"]
        assert issue["code"] == "security" and words in issue["diagnostics"], name
    token = sandbox_jwt(url)
    assert call(cds, body, token=token).status_code == 200
    replayed = call(cds, body, token=token)
    assert replayed.status_code == 401 and "replay" in replayed.json()["issue"][0]["diagnostics"]
    assert sum(1 for _ in read_records(cds.audit_db)) == before + 1  # only the one answered


def test_the_rest_tokens_keep_working(cds, clinic):
    response = call(cds, hook_call(clinic["MAN-001"]), token=cds.token)
    assert response.status_code == 200
    assert check_response(response.json()).cards


def test_a_missing_prefetch_key_is_412(cds, clinic):
    for changes, keys in (
        ({"observations": ...}, ["prefetch.observations"]),
        (
            {
                k: ...
                for k in ("patient", "conditions", "observations", "procedures", "medications")
            },
            None,
        ),
    ):
        response = call(cds, hook_call(clinic["MAN-001"], **changes))
        assert response.status_code == 412, response.text
        (issue,) = response.json()["issue"]
        assert issue["code"] == "required"
        assert keys is None or issue["expression"] == keys
    # null (the client has no data) and empty searches are taken at their word
    empty = hook_call(clinic["MAN-001"], procedures=None, medications=searchset([]))
    assert call(cds, empty).status_code == 200


def test_feedback_is_written_beside_its_answer(cds, clinic):
    answered = call(cds, hook_call(clinic["MAN-008"]))
    request_id = answered.headers["x-il2select-audit-id"]
    (card,) = answered.json()["cards"]
    reason = {"reason": card["overrideReasons"][1], "userComment": "prefers an oral drug"}
    item = {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": reason,
        "outcomeTimestamp": "2026-03-02T10:05:31Z",
    }
    response = call(cds, {"feedback": [item]}, path=SERVICE_PATH + "/feedback")
    assert response.status_code == 200, response.text
    note = note_of(cds, request_id, "cds_feedback")
    assert note["note"] == item
    assert note["token_id"] == f"cds:{SANDBOX}"
    exported = run_cli(clean_env(), REPO, "audit", "export", "--db", str(cds.audit_db), "--notes")
    assert exported.returncode == 0, exported.stderr
    assert note["note"] in [json.loads(line)["note"] for line in exported.stdout.splitlines()]
    bad = call(cds, {"feedback": [{**item, "outcome": "maybe"}]}, path=SERVICE_PATH + "/feedback")
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    # a card no one answered: refused, naming it, and nothing recorded
    stranger = {**item, "card": str(uuid.uuid4())}
    notes_before = len(list(read_notes(cds.audit_db)))
    unknown = call(cds, {"feedback": [item, stranger]}, path=SERVICE_PATH + "/feedback")
    assert unknown.status_code == 404, unknown.text
    (issue,) = unknown.json()["issue"]
    assert issue["code"] == "not-found" and issue["expression"] == ["feedback[1].card"]
    assert stranger["card"] in issue["diagnostics"]
    assert len(list(read_notes(cds.audit_db))) == notes_before


def test_cors_preflight_and_headers(cds, clinic):
    preflight = httpx.options(
        cds.url + SERVICE_PATH,
        headers={
            "origin": ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "POST" in preflight.headers["access-control-allow-methods"]
    answered = call(cds, hook_call(clinic["MAN-001"]), origin=ORIGIN)
    refused = call(cds, hook_call(clinic["MAN-001"]), token=None, origin=ORIGIN)
    discovery = httpx.get(cds.url + "/cds-services", headers={"origin": ORIGIN})
    for response in (answered, refused, discovery):
        assert response.headers["access-control-allow-origin"] == "*"
    assert "x-il2select-audit-id" in answered.headers["access-control-expose-headers"].lower()
    rest = httpx.get(cds.url + "/livez", headers={"origin": ORIGIN})
    assert "access-control-allow-origin" not in rest.headers  # the REST API: no CORS


@pytest.mark.parametrize("patient_id", PATIENTS[:3])
def test_a_fhir_bundle_on_recommend_answers_as_the_contract_form(cds, clinic, patient_id):
    from data.synthetic.fhir_export import bundle_of

    resources = clinic[patient_id]
    mapped = patient_from_resources(resources, date.today())
    with cds.client() as client:
        fhir = client.post(
            "/recommend",
            content=json.dumps(bundle_of(resources)),
            headers={"content-type": "application/fhir+json"},
        )
        contract = client.post("/recommend", json=mapped.values)
    assert fhir.status_code == 200, fhir.text
    assert_close(fhir.json(), contract.json())
    note = note_of(cds, fhir.headers["x-il2select-audit-id"], "fhir_sources")["note"]
    assert note["resources"] == mapped.used


def test_a_fhir_bundle_that_cannot_be_answered_is_refused_precisely(cds, clinic):
    from data.synthetic.fhir_export import bundle_of

    no_ecog = [r for r in clinic["MAN-001"] if not r["id"].endswith("-ecog")]
    two = clinic["MAN-001"] + clinic["MAN-002"]
    with cds.client() as client:
        fhir = {"content-type": "application/fhir+json"}
        missing = client.post("/recommend", content=json.dumps(bundle_of(no_ecog)), headers=fhir)
        several = client.post("/recommend", content=json.dumps(bundle_of(two)), headers=fhir)
        other = client.post(
            "/recommend", content=b"<Bundle/>", headers={"content-type": "text/xml"}
        )
    assert missing.status_code == 422
    (error,) = [e for e in missing.json()["detail"] if e["field"] == "ecog"]
    assert "89247-1" in error["rule"]
    assert several.status_code == 422 and "2 patients" in several.json()["error"]
    assert other.status_code == 415 and "application/fhir+json" in other.json()["error"]


def test_a_body_refused_before_the_service_is_an_operation_outcome(cds, clinic):
    """415 and 413 on the CDS routes speak CDS Hooks' error shape, as every other refusal
    there does; the REST routes keep theirs."""
    url = cds.url + SERVICE_PATH
    headers = {"authorization": f"Bearer {sandbox_jwt(url)}", "content-type": "text/plain"}
    wrong_type = httpx.post(url, content=b"{}", headers=headers, timeout=60)
    assert wrong_type.status_code == 415
    (issue,) = wrong_type.json()["issue"]
    assert issue["code"] == "not-supported" and "application/json" in issue["diagnostics"]
    headers = {"authorization": f"Bearer {sandbox_jwt(url)}", "content-type": "application/json"}
    huge = b'{"x": "' + b"y" * (40 * 2**20) + b'"}'
    too_big = httpx.post(url, content=huge, headers=headers, timeout=60)
    assert too_big.status_code == 413
    (issue,) = too_big.json()["issue"]
    assert issue["code"] == "too-long" and "too large" in issue["diagnostics"]
    assert issue["expression"] == ["body"]
    rest = cds.client().post("/recommend", content=b"{}", headers={"content-type": "text/plain"})
    assert rest.status_code == 415 and "error" in rest.json()
