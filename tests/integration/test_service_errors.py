"""Bad input and bad credentials against a real server: precise 422/413/415, 401 without
detail, never a 5xx (schemathesis fuzzes the OpenAPI schema, bounded here)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest
from _bentoml_impl.serde import JSONSerde
from bentoml._internal.server.http.traffic import TimeoutMiddleware
from starlette.requests import Request

from model.contract.patient import patient_example
from serving.guard import PARSED_BODY
from serving.overrides import install_bentoml_overrides
from serving.service import CHECKED_BODY_METHODS, IL2Select
from tests.integration.service_fixtures import (  # noqa: F401  (fixtures)
    champion_tracking_uri,
    service,
)

ROUTES = ("/recommend", "/survival", "/predict", "/triage")


@pytest.fixture(scope="module")
def client(service):
    with service.client() as c:
        yield c


@pytest.fixture
def overrides():
    """What the service's start-up installs (idempotent)."""
    install_bentoml_overrides(IL2Select, CHECKED_BODY_METHODS)


def test_importing_the_service_patches_nothing_until_it_starts():
    """No import-time side effects: BentoML's internals are patched by the service's
    start-up (``IL2Select.__init__``), not by importing the module."""
    code = (
        "from bentoml._internal.server.http.traffic import TimeoutMiddleware\n"
        "original = TimeoutMiddleware.__call__\n"
        "from serving.service import CHECKED_BODY_METHODS, IL2Select\n"
        "from serving.overrides import install_bentoml_overrides\n"
        "spec = IL2Select.apis['recommend'].input_spec.from_http_request\n"
        "assert TimeoutMiddleware.__call__ is original, 'patched at import'\n"
        "install_bentoml_overrides(IL2Select, CHECKED_BODY_METHODS)\n"
        "assert TimeoutMiddleware.__call__ is not original, 'not patched by the call'\n"
        "assert IL2Select.apis['recommend'].input_spec.from_http_request != spec\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_overrides_refuse_a_bentoml_they_were_not_written_for(monkeypatch):
    import bentoml

    monkeypatch.setattr(bentoml, "__version__", "1.5.0")
    with pytest.raises(RuntimeError, match="re-check the overrides"):
        install_bentoml_overrides(IL2Select, CHECKED_BODY_METHODS)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("ecog", "two", ["must be a JSON number, not text"]),
        ("ecog", 1.5, ["valid integer"]),
        ("ecog", 7, ["between 0 and 4"]),
        ("karnofsky", 85, ["multiple of 10"]),
        ("sex", "unknown", ["'female' or 'male'"]),
        ("histology", "sarcomatoid", ["clear_cell"]),
        ("creatinine_mg_dl", 110.0, ["µmol/L", "divide by 88.4"]),
        ("corrected_calcium_mg_dl", 2.4, ["mmol/L"]),
        ("met_lung", "yes", ["must be true or false, not text"]),
        ("ecog", None, ["required"]),
        ("ecog", 10**400, ["too large"]),
    ],
)
def test_bad_field_is_422_naming_field_value_and_rule(client, field, value, words):
    patient = {**patient_example(), field: value}
    if value is None:
        del patient[field]
    body = json.dumps(patient)
    response = client.post("/recommend", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    problem = response.json()
    entry = next(d for d in problem["detail"] if d["field"] in (field, "body"))
    assert all(word in entry["rule"] for word in words), entry
    if isinstance(value, int) and abs(value) > 10**300:  # shown shortened, as text
        assert entry["field"] == field and str(value).startswith(str(entry["value"]))
    elif value is not None and entry["field"] == field:
        assert entry["value"] == value


# JSON values no endpoint may turn into a clinical number or a name (issue 14, defects 3
# and 6): (field, value, words of the rule)
MISTYPED = [
    ("ecog", True, "must be a JSON number, not true/false"),
    ("age_years", True, "must be a JSON number, not true/false"),
    ("age_years", "58", "must be a JSON number, not text"),
    ("met_lung", 1, "must be true or false"),
    ("patient_id", ["a"], "must be text, not a list"),
    ("patient_id", "\ud800", "lone surrogate"),
    ("creatinine_mg_dl", 10**400, "too large"),
]


@pytest.mark.parametrize(("field", "value", "words"), MISTYPED)
def test_a_mistyped_value_is_refused_alike_on_every_endpoint(client, field, value, words):
    """One patient: 422 naming the field; a list: that row refused by number with the same
    rule, the rows beside it answered (never a 500, never a coerced value)."""
    bad = {**patient_example(), field: value}
    headers = {"content-type": "application/json"}
    for route in ("/recommend", "/survival"):
        response = client.post(route, content=json.dumps(bad), headers=headers)
        assert response.status_code == 422, (route, response.text)
        entry = next(d for d in response.json()["detail"] if d["field"] == field)
        assert words in entry["rule"], entry
    good = patient_example()
    for route in ("/predict", "/triage"):
        response = client.post(route, content=json.dumps([good, bad, good]), headers=headers)
        assert response.status_code == 200, (route, response.text)
        rows = response.json()
        assert [r["row"] for r in rows] == [1, 2, 3]
        assert not rows[0]["errors"] and not rows[2]["errors"]
        entry = next(e for e in rows[1]["errors"] if e["field"] == field)
        assert words in entry["rule"], (route, entry)
        assert rows[1]["patient_id"] in (None, good["patient_id"]), rows[1]
        answered = "answer" if route == "/predict" else "derived"
        assert rows[1][answered] is None and rows[0][answered] and rows[2][answered]


@pytest.mark.parametrize("route", ROUTES)
def test_a_value_nested_hundreds_deep_is_refused_at_once(client, route):
    """Issue 14, defect 5: a field nested ~1,000 deep once took the error formatter into a
    RecursionError and a 500 after 60 s."""
    patient = {**patient_example(), "patient_id": "{}"}
    text = json.dumps(patient).replace('"{}"', "[" * 900 + "]" * 900)
    body = text if route in ("/recommend", "/survival") else f"[{text}]"
    response = client.post(
        route, content=body, headers={"content-type": "application/json"}, timeout=10
    )
    assert response.status_code in (200, 422), response.text[:300]
    assert response.elapsed.total_seconds() < 5
    rows = response.json() if response.status_code == 200 else None
    errors = rows[0]["errors"] if rows else response.json()["detail"]
    assert any(e["field"] in ("patient_id", "body") for e in errors), errors


def test_unknown_field_and_cross_field_rule(client):
    response = client.post("/recommend", json={**patient_example(), "shoe_size": 44})
    assert response.status_code == 422
    assert response.json()["detail"][0] == {
        "field": "shoe_size",
        "value": 44,
        "rule": "is not a field of the data contract",
    }
    response = client.post(
        "/recommend", json={**patient_example(), "prior_tki": False, "months_since_tki": 3.0}
    )
    assert response.status_code == 422
    assert "months_since_tki" in response.text


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 422),
        (b"{not json", 422),
        (b"\xff\xfe", 422),
        (b"[" * 100_000, 422),
        (b"null", 422),
        (b"42", 422),
    ],
)
def test_unusable_bodies_are_422(client, route, body, status):
    response = client.post(route, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, (route, body[:20], response.text)
    assert response.json()["error"]


def test_lists_of_non_objects_and_wrong_media_type(client):
    response = client.post("/predict", json=[patient_example(), 3])
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "[1]"
    response = client.post(
        "/recommend", content=b"a=b", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    response = client.post("/predict", json=[{"patient_id": "x"}])
    assert response.status_code == 422
    assert "missing required column" in response.json()["error"]


def test_huge_body_is_413_naming_the_limit(client):
    huge = b"[" + b",".join([json.dumps(patient_example()).encode()] * 20_000) + b"]"
    assert len(huge) > 16 * 1024 * 1024
    response = client.post("/predict", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "16 MB" in response.json()["error"]


def test_too_many_patients_is_413_naming_the_limit(client):
    rows = [{"ecog": 0}] * 10_001
    for route in ("/predict", "/triage"):
        response = client.post(route, json=rows)
        assert response.status_code == 413, response.text
        assert "10,000" in response.json()["error"]


@pytest.mark.parametrize("token", [None, "wrong-token", "test-token-0123456789x"])
def test_missing_or_wrong_token_is_401_without_detail(service, token):
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    for method, path in [("POST", r) for r in ROUTES] + [
        ("GET", "/model"),
        ("GET", "/metrics"),
        ("GET", "/docs.json"),
    ]:
        response = httpx.request(
            method, service.url + path, json=patient_example(), headers=headers
        )
        assert response.status_code == 401, path
        assert response.json() == {"error": "unauthorized"}


def test_health_and_page_need_no_token(service):
    for path in ("/livez", "/readyz", "/", "/static/app.js", "/static/style.css"):
        assert httpx.get(service.url + path).status_code == 200, path


def test_request_bodies_are_never_logged(service, client):
    marker = "MARKER-PATIENT-7f3c1a"
    client.post("/recommend", json={**patient_example(), "patient_id": marker})
    client.post("/recommend", json={**patient_example(), "patient_id": marker, "ecog": 99})
    client.post("/predict", json=[{**patient_example(), "patient_id": marker, "ecog": 99}])
    assert marker not in service.log()


def test_schemathesis_finds_no_server_error(service, tmp_path):
    """Bounded fuzzing of every operation in the OpenAPI schema (a longer run: bench/fuzz.py)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{service.url}/docs.json",
            "-H",
            f"Authorization: Bearer {service.token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "10",
            "--seed",
            "20260522",
            "--max-time",
            "25",
            "--request-timeout",
            "30",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=180,
    )  # its cache stays there
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


@pytest.mark.parametrize("method", ["recommend", "survival", "predict", "triage"])
def test_a_method_receives_the_body_the_guard_checked_without_parsing_it_again(method, overrides):
    """The guard parses and checks each body once; BentoML's own parsing of the same bytes
    is bypassed (``take_checked_bodies``), and still used where the guard did not run."""
    spec = IL2Select.apis[method].input_spec
    checked = object()
    request = Request(
        {"type": "http", "method": "POST", "headers": [], "state": {PARSED_BODY: checked}}
    )
    assert asyncio.run(spec.from_http_request(request, None)) is checked

    async def receive():
        return {"type": "http.request", "body": b"not json", "more_body": False}

    unchecked = Request({"type": "http", "method": "POST", "headers": [], "state": {}}, receive)
    with pytest.raises(ValueError):  # BentoML's own parsing refuses it (JSON or pydantic)
        asyncio.run(spec.from_http_request(unchecked, JSONSerde()))


def test_a_finished_request_leaves_no_timeout_timer_behind(overrides):
    """BentoML's TimeoutMiddleware kept every request's timer (and future) for the whole
    timeout; the override cancels it when the request is done, and still answers 504 when
    the handler is too slow."""

    async def quick(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def slow(scope, receive, send):
        await asyncio.sleep(5)

    async def run(app, timeout):
        sent = []

        async def send(message):
            sent.append(message)

        await TimeoutMiddleware(app, timeout=timeout)({"type": "http"}, None, send)
        loop = asyncio.get_running_loop()
        pending = [h for h in loop._scheduled if not h.cancelled()]
        return sent, pending

    sent, pending = asyncio.run(run(quick, 60))
    assert sent[0]["status"] == 200 and pending == []
    sent, _ = asyncio.run(run(slow, 0.05))
    assert sent[0]["status"] == 504


def test_a_token_added_or_revoked_takes_effect_without_a_restart(service):
    """Issue 14, deliverable 8: `il2select token add/revoke` on the running service's
    tokens file; the next request sees it."""
    tokens = service.audit_db.parent / "tokens"  # where `start_server` keeps them

    def cli(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "il2select", "token", *args, "--tokens-file", str(tokens)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    added = cli("add", "live-board")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=service.url, timeout=30) as client:
        headers = {"authorization": f"Bearer {token}"}
        assert client.get("/model", headers=headers).status_code == 200
        assert cli("revoke", "live-board").returncode == 0
        assert client.get("/model", headers=headers).status_code == 401
        assert client.get("/model", headers=service.client().headers).status_code == 200


@pytest.mark.parametrize(
    "extra",
    ['"note": "\\ud800"', '"\\udc00": 1', '"note": ' + "[" * 300 + "]" * 300],
)
def test_a_list_row_the_audit_log_could_not_keep_is_refused_alone(client, extra):
    """A key outside the contract is ignored, unless it cannot be kept as canonical JSON in
    the audit log (a lone surrogate, nesting beyond 255): then its row is refused by
    number; it once made the whole list a 500 after every row was computed."""
    good = json.dumps(patient_example())
    bad = good[:-1] + ", " + extra + "}"
    response = client.post(
        "/predict", content=f"[{good}, {bad}]", headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text[:300]
    first, second = response.json()
    assert first["answer"] and not first["errors"]
    assert second["answer"] is None and "cannot be kept as JSON" in second["errors"][0]["rule"]
