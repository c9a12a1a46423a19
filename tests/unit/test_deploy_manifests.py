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


def _containers() -> list[dict]:
    return [
        container
        for _, _, document in DOCUMENTS
        if document["kind"] in ("StatefulSet", "Deployment")
        for container in document["spec"]["template"]["spec"]["containers"]
    ]


def test_the_manifests_name_only_real_settings_and_public_probes():
    assert {kind for _, _, d in DOCUMENTS for kind in [d["kind"]]} >= {
        "StatefulSet",
        "Service",
        "HorizontalPodAutoscaler",
        "Secret",
    }
    settings = set(Settings.model_fields)
    for container in _containers():
        for variable in container["env"]:
            if variable["name"].startswith("IL2SELECT_"):
                field = variable["name"].removeprefix("IL2SELECT_").lower()
                assert field in settings, variable["name"]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] in PUBLIC_PATHS  # no token needed


def test_the_example_secret_holds_tokens_the_service_reads(tmp_path):
    (secret,) = [d for _, _, d in DOCUMENTS if d["kind"] == "Secret"]
    tokens = tmp_path / "tokens"
    tokens.write_text(secret["stringData"]["tokens"])
    assert load_tokens("", tokens)
