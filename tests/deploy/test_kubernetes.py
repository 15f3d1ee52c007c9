"""The Kubernetes manifests checked offline against Kubernetes' own API schemas
(kubernetes-validate ships them): no cluster can run here, so this is as far as they go.

Standard resources are validated whole and strictly (an unknown field fails). The Dask
operator's ``DaskCluster`` has no schema there: its scheduler and worker pod specs and its
scheduler service are validated as the Pod and Service they become.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

K8S = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def _resources() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    out = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc:
                out.append((f"{name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return out


def _validate(resource: dict[str, Any]) -> None:
    kubernetes_validate.validate(resource, kubernetes_validate.latest_version(), strict=True)


def _as(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


@pytest.mark.parametrize(
    "resource", [r for _, r in _resources()], ids=[name for name, _ in _resources()]
)
def test_manifest_matches_the_kubernetes_api_schema(resource: dict[str, Any]) -> None:
    if resource["kind"] == "DaskCluster":
        spec = resource["spec"]
        _validate(_as("Pod", "scheduler", spec["scheduler"]["spec"]))
        _validate(_as("Service", "scheduler", spec["scheduler"]["service"]))
        _validate(_as("Pod", "worker", spec["worker"]["spec"]))
    else:
        _validate(resource)


def test_a_misspelt_field_is_caught() -> None:
    (cluster,) = [r for _, r in _resources() if r["kind"] == "DaskCluster"]
    worker = yaml.safe_load(yaml.safe_dump(cluster["spec"]["worker"]["spec"]))
    worker["containers"][0]["volumeMount"] = worker["containers"][0].pop("volumeMounts")
    with pytest.raises(kubernetes_validate.ValidationError, match="volumeMount"):
        _validate(_as("Pod", "worker", worker))
