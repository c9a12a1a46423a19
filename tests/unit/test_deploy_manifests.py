"""The Kubernetes manifests (``deploy/``) validate against the Kubernetes schemas (strict:
an unknown or misspelt field fails), and agree with the code they deploy: every
``IL2SELECT_`` variable is a setting, the probes are the service's public health routes,
the example Secret's tokens are read by the service's own parser. No cluster runs here."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from model.settings import Settings
from serving.auth import load_tokens
from serving.guard import PUBLIC_PATHS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES_VERSION = "1.30"
DOCUMENTS = [
    (path.name, number, document)
    for path in sorted(DEPLOY.glob("*.yaml"))
    for number, document in enumerate(yaml.safe_load_all(path.read_text()))
    if document
]


@pytest.mark.parametrize(("name", "number", "document"), DOCUMENTS, ids=lambda v: str(v)[:40])
def test_every_manifest_validates_strictly(name, number, document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def _pod_spec(document: dict) -> dict | None:
    """The pod template's spec of a workload (Deployment, StatefulSet, Job, CronJob)."""
    spec = document.get("spec", {})
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec.get("template", {}).get("spec")


def _containers() -> list[dict]:
    return [
        container
        for _, _, document in DOCUMENTS
        if (pod := _pod_spec(document)) is not None
        for container in pod["containers"]
    ]


def _secrets() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for _, _, d in DOCUMENTS if d["kind"] == "Secret"}


def test_the_manifests_name_only_real_settings_and_public_probes():
    assert {kind for _, _, d in DOCUMENTS for kind in [d["kind"]]} >= {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Secret",
    }
    settings = set(Settings.model_fields)
    for container in _containers():
        for variable in container.get("env", []):
            if variable["name"].startswith("IL2SELECT_"):
                field = variable["name"].removeprefix("IL2SELECT_").lower()
                assert field in settings, variable["name"]
        if container["name"] == "il2select":
            for probe in ("readinessProbe", "livenessProbe"):
                assert container[probe]["httpGet"]["path"] in PUBLIC_PATHS  # no token needed


def test_every_secret_key_a_workload_reads_is_in_the_example_secrets():
    secrets = _secrets()
    read = [
        variable["valueFrom"]["secretKeyRef"]
        for container in _containers()
        for variable in container.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    ]
    assert len(read) >= 7
    for reference in read:
        assert reference["key"] in secrets[reference["name"]]["stringData"], reference


def test_the_service_shares_its_registry_and_audit_log_through_the_secret():
    (service,) = [c for c in _containers() if c["name"] == "il2select"]
    from_secret = {v["name"] for v in service["env"] if "secretKeyRef" in v.get("valueFrom", {})}
    assert {"MLFLOW_TRACKING_URI", "IL2SELECT_AUDIT_URL"} <= from_secret
    assert not any(v["name"] == "IL2SELECT_AUDIT_DB" for v in service["env"])
    example = _secrets()["il2select"]["stringData"]
    assert Settings(audit_url=example["audit-url"]).audit_url.startswith("postgresql://")


def test_the_example_secret_holds_tokens_the_service_reads(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(_secrets()["il2select"]["stringData"]["tokens"])
    assert load_tokens("", tokens)
