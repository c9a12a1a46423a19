"""The REST API of a real server (``il2select serve`` on loopback) over HTTP."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pandas as pd
import pytest

from bench.phase_cost import batch_totals
from model.contract.patient import patient_example
from model.recommend.prediction_table import REASON_SEPARATOR
from model.rules.derive import DERIVED_COLUMNS, RULES_VERSION
from serving.triage import triage_frame
from tests.integration.service_fixtures import (  # noqa: F401  (fixtures)
    REPO,
    TOLERANCE,
    assert_close,
    champion_tracking_uri,
    clinic_patients,
    service,
)


@pytest.fixture(scope="module")
def client(service):
    with service.client() as c:
        yield c


@pytest.fixture(scope="module")
def champion(champion_tracking_uri):
    """The same registered pyfunc, loaded in the test process."""
    from model.settings import Settings
    from serving.champion import load_champion

    return load_champion(Settings(mlflow_tracking_uri=champion_tracking_uri))


def test_recommend_equals_the_champion_in_process_for_the_clinic_list(client, champion):
    patients = clinic_patients()
    assert len(patients) >= 40
    for patient in patients:
        response = client.post("/recommend", json=patient)
        assert response.status_code == 200, response.text
        served = response.json()
        local = champion.recommender.recommend_one(patient).model_dump(mode="json")
        provenance = served.pop("provenance")
        local.pop("provenance")
        assert_close(served, local)
        assert provenance == champion.provenance.model_dump(mode="json")
        assert "synthetic cohorts" in served["scope"]
        assert "checkpoint-inhibitor" in served["scope"]


def test_concurrent_recommendations_are_batched_and_each_answer_is_the_patients_own(
    service, champion
):
    """16 clients at once: the server computes their patients together
    (``serving/batching.py``), and every answer still equals that patient's alone.

    Batches form only when requests arrive while the server is busy, so the clients keep
    their connections open and are released together by a barrier, burst after burst, until
    ``/metrics`` shows a batch of several patients (or the bursts run out)."""
    width, most_bursts = 16, 12
    clinic = clinic_patients()
    clients = [service.client() for _ in range(width)]
    barrier = threading.Barrier(width)

    def ask(client, patient):
        barrier.wait(timeout=60)
        return client.post("/recommend", json=patient)

    def batched_since(before: dict[str, float]) -> dict[str, float]:
        """The batch-size histogram's growth since ``before``."""
        now = _histogram(clients[0].get("/metrics").text, "recommend_batch_size")
        return {key: now[key] - before[key] for key in now}

    try:
        for client in clients:  # connected before the first burst
            assert client.get("/model").status_code == 200
        before = _histogram(clients[0].get("/metrics").text, "recommend_batch_size")
        asked, answered = [], []
        with ThreadPoolExecutor(max_workers=width) as pool:
            for burst in range(most_bursts):
                patients = [clinic[(burst * width + i) % len(clinic)] for i in range(width)]
                asked += patients
                answered += pool.map(ask, clients, patients)
                grown = batched_since(before)
                if grown["le=1.0"] < grown["count"]:  # some batch held several patients
                    break
    finally:
        for client in clients:
            client.close()
    assert grown["le=1.0"] < grown["count"], (
        f"{len(asked)} requests in {burst + 1} bursts of {width}, all alone: {grown}"
    )
    assert grown["sum"] == len(asked)  # every patient computed once, in some batch
    with service.client() as client:  # bench.serving reads the same histogram
        now = _histogram(client.get("/metrics").text, "recommend_batch_size")
    assert batch_totals(service.url, service.token) == (now["sum"], now["count"])
    for patient, response in zip(asked, answered, strict=True):
        assert response.status_code == 200, response.text
        served = response.json()
        served.pop("provenance")
        local = champion.recommender.recommend_one(patient).model_dump(mode="json")
        local.pop("provenance")
        assert_close(served, local)


def _histogram(metrics: str, name: str) -> dict[str, float]:
    """A Prometheus histogram's count, sum and buckets (``le=…``) from /metrics."""
    out = {}
    for line in metrics.splitlines():
        if line.startswith(f"{name}_count"):
            out["count"] = float(line.split()[-1])
        elif line.startswith(f"{name}_sum"):
            out["sum"] = float(line.split()[-1])
        elif line.startswith(f"{name}_bucket"):
            le = line[line.index('le="') + 4 :].split('"')[0]
            out[f"le={le}"] = float(line.split()[-1])
    assert {"count", "sum", "le=1.0"} <= out.keys(), metrics
    return out


def test_recommend_equals_il2select_predict(client, champion_tracking_uri, tmp_path):
    """Acceptance: the numbers of ``il2select predict`` on the same rows (within 1e-9)."""
    out = tmp_path / "predicted.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "il2select",
            "predict",
            "--in",
            str(REPO / "data/synthetic/samples/clinic_list.csv"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**__import__("os").environ, "MLFLOW_TRACKING_URI": champion_tracking_uri},
    )
    assert done.returncode == 0, done.stderr
    predicted = pd.read_csv(out)
    compared = 0
    for patient, (_, row) in zip(clinic_patients(), predicted.iterrows(), strict=True):
        answer = client.post("/recommend", json=patient).json()
        for column, value in flatten_answer(answer).items():
            if column in predicted.columns:
                expected = row[column]
                if isinstance(value, float) or value is None:
                    # a median never reached: inf in the table, null in JSON
                    expected = (
                        None if pd.isna(expected) or math.isinf(expected) else float(expected)
                    )
                    assert (value is None) == (expected is None), column
                    if value is not None:
                        assert math.isclose(value, expected, abs_tol=TOLERANCE), column
                else:
                    assert str(value) == str(expected), column
                compared += 1
    common = set(flatten_answer(answer)) & set(predicted.columns)
    assert {"recommendation"} < common and len(common) >= 10, sorted(common)
    assert compared == len(predicted) * len(common)  # every shared column of every row


def flatten_answer(answer: dict) -> dict:
    """A ``PatientAnswer`` under the prediction table's column names (BRIEF: model
    predictions use the truth's names without ``true_``; intervals as ``_lo``/``_hi``)."""
    flat = {
        "recommendation": answer["recommendation"],
        "reasons": REASON_SEPARATOR.join(answer["reasons"]),
    }

    def estimate(key: str, e: dict | None) -> None:
        if e is not None:
            flat[key], flat[f"{key}_lo"], flat[f"{key}_hi"] = e["value"], e["lo"], e["hi"]

    for s in ("il2", "tki"):
        o = answer[s]
        for key in (
            "p_response",
            "p_complete_response",
            "p_cure",
            "p_severe_cardiac_toxicity",
            "p_durable_cr",
        ):
            estimate(f"{s}_{key}", o.get(key))
        for kind in ("os", "pfs"):
            for m, e in o[f"{kind}_at_months"].items():
                estimate(f"{s}_{kind}_at_{m}_months", e)
            flat[f"{s}_median_{kind}_months"] = o[f"median_{kind}_months"]["value"]
    for key, e in answer["difference_il2_minus_tki"].items():
        estimate(f"diff_{key}", e)
    return flat


def test_predict_keeps_order_and_answers_good_rows_beside_bad_ones(client, champion):
    patients = clinic_patients()[:5]
    bad = {**patient_example(), "patient_id": "BAD-1", "creatinine_mg_dl": 110.0}
    rows = [patients[0], bad, *patients[1:], {"patient_id": "BAD-2", "ecog": "two"}]
    response = client.post("/predict", json=rows)
    assert response.status_code == 200, response.text
    out = response.json()
    assert [r["row"] for r in out] == list(range(1, len(rows) + 1))
    assert [r["patient_id"] for r in out] == [r.get("patient_id") for r in rows]
    assert out[1]["answer"] is None
    assert out[1]["errors"][0]["field"] == "creatinine_mg_dl"
    assert out[1]["errors"][0]["value"] == 110.0
    assert "µmol/L" in out[1]["errors"][0]["rule"]
    assert out[-1]["answer"] is None and out[-1]["errors"]
    for served, patient in zip([out[0], *out[2:-1]], patients, strict=True):
        assert served["errors"] == []
        local = champion.recommender.recommend_one(patient).model_dump(mode="json")
        for key in ("recommendation", "reasons", "eligibility", "pathway"):
            assert served["answer"][key] == local[key], key
        assert_close(served["answer"]["il2"], local["il2"])


def test_triage_matches_the_cli_function(client):
    raw = pd.read_csv(
        REPO / "data/synthetic/samples/clinic_list.csv", dtype=str, keep_default_na=False
    )
    patients = clinic_patients()
    response = client.post("/triage", json=patients)
    assert response.status_code == 200, response.text
    served = response.json()
    expected = triage_frame(raw).triaged
    assert len(served) == len(expected)
    for row, (_, want) in zip(served, expected.iterrows(), strict=True):
        assert row["errors"] == []
        for column in DERIVED_COLUMNS:
            value, wanted = row["derived"][column], want[column]
            assert (value is None) == bool(pd.isna(wanted)), column
            if value is not None:
                assert str(value).lower() == str(wanted).lower(), column


def test_survival_curves_for_both_strategies(client):
    response = client.post("/survival", json=patient_example())
    assert response.status_code == 200, response.text
    curves = response.json()
    assert curves["months"][0] == 0 and curves["months"][-1] == 120
    for key in ("il2_os", "il2_pfs", "tki_os", "tki_pfs"):
        values = curves[key]
        assert len(values) == len(curves["months"])
        assert all(0.0 <= v <= 1.0 for v in values)
        assert all(b <= a + 1e-12 for a, b in zip(values, values[1:], strict=False))
        low, high = curves[f"{key}_lo"], curves[f"{key}_hi"]  # the 95 % band holds the curve
        assert all(lo - 1e-9 <= v <= hi + 1e-9 for lo, v, hi in zip(low, values, high, strict=True))
        assert max(h - lo for lo, h in zip(low, high, strict=True)) > 0.005  # a band, not a line


def test_model_shows_provenance_and_promotion_metrics(client, champion_tracking_uri):
    import mlflow

    response = client.get("/model")
    assert response.status_code == 200, response.text
    info = response.json()
    registry = mlflow.MlflowClient(
        tracking_uri=champion_tracking_uri, registry_uri=champion_tracking_uri
    )
    version = registry.get_model_version_by_alias("il2select", "champion")
    run = registry.get_run(version.run_id)
    assert info["provenance"] == {
        "model_name": "il2select",
        "model_version": str(version.version),
        "model_alias": "champion",
        "run_id": version.run_id,
        "training_data_hash": run.data.tags.get("training_data_sha256")
        or run.data.tags.get("training_data_hash"),
        "rules_version": RULES_VERSION,
        "model_card": "/model/card",
        # the thresholds belong to the version: what it was trained with, as MLflow params
        "policy": {
            "min_durable_gain": float(run.data.params["min_durable_gain"]),
            "max_p_toxicity": float(run.data.params["max_p_toxicity"]),
        },
    }
    assert info["provenance"]["training_data_hash"]
    assert info["metrics"] == pytest.approx(run.data.metrics)


def test_model_card_is_the_champions_and_needs_no_token(service, champion_tracking_uri):
    """The card logged by the champion's training run, served as HTML to anyone (no
    patient data in it): the version, its thresholds, quality and limitations."""
    import mlflow

    registry = mlflow.MlflowClient(tracking_uri=champion_tracking_uri)
    version = registry.get_model_version_by_alias("il2select", "champion")
    params = registry.get_run(version.run_id).data.params
    response = httpx.get(service.url + "/model/card")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    card = response.text
    assert f"il2select version {version.version}" in card and version.run_id in card
    assert f"<b>{params['min_durable_gain']}</b>" in card
    for section in (
        "Intended use",
        "Population, era and data",
        "Predictors and unknown inputs",
        "Model types",
        "Coverage of the truth",
        "Trade-off table",
        "Policy value",
        "Limitations",
        "synthetic data",
        "checkpoint-inhibitor",
    ):
        assert section in card, section
    assert "data:image/png;base64," in card  # the plots travel inside the card


def test_health_metrics_and_openapi(service, client):
    assert httpx.get(f"{service.url}/livez").status_code == 200
    assert httpx.get(f"{service.url}/readyz").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "# TYPE" in metrics.text
    spec = client.get("/docs.json").json()
    assert {"/recommend", "/predict", "/triage", "/survival"} <= set(spec["paths"])
    body = spec["paths"]["/recommend"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["example"] == patient_example()
    assert body["schema"]["properties"]["ecog"]["examples"] == [0]


def test_serving_the_champion_loads_neither_lifelines_nor_scikit_learn(champion_tracking_uri):
    """Only training needs them: a worker that loads and runs the champion stays ~70 MiB
    smaller without them."""
    code = (
        "import sys\n"
        "from serving.champion import load_champion\n"
        "from model.settings import Settings\n"
        "from model.contract.patient import patient_example\n"
        f"champion = load_champion(Settings(mlflow_tracking_uri={champion_tracking_uri!r}))\n"
        "champion.recommender.recommend_one(patient_example())\n"
        "print(sorted(m for m in ('lifelines', 'sklearn', 'autograd') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
