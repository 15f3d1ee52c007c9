"""The deployment files parse and carry the fields the flows and the cluster rely on:
prefect.yaml, the Kubernetes manifests and the GPU worker's Dockerfile (no Docker here)."""

from __future__ import annotations

import inspect
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from hts.models import DEFAULT_SEGMENTER

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"


def _yaml_docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def _manifests() -> dict[tuple[str, str], dict[str, Any]]:
    """``(kind, name) -> resource`` of every manifest the kustomization lists."""
    kustomization = _yaml_docs(K8S / "kustomization.yaml")[0]
    out = {}
    for name in kustomization["resources"]:
        for doc in _yaml_docs(K8S / name):
            out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


# --- prefect.yaml -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def prefect_yaml() -> dict[str, Any]:
    return _yaml_docs(ROOT / "prefect.yaml")[0]


def _deployment(prefect_yaml: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [d for d in prefect_yaml["deployments"] if d["name"] == name]
    return found


@pytest.mark.parametrize(
    ("name", "flow_name"), [("nightly", "nightly-screen"), ("reprocess", "reprocess-archive")]
)
def test_deployments_name_real_flows_and_valid_parameters(
    prefect_yaml: dict[str, Any],
    name: str,
    flow_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.templating import apply_values

    deployment = _deployment(prefect_yaml, name)
    path, _, _ = deployment["entrypoint"].partition(":")
    assert (ROOT / path).is_file()
    flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
    assert flow.name == flow_name
    params = deployment["parameters"]
    assert set(params) <= set(inspect.signature(flow.fn).parameters)
    assert params["model"] == DEFAULT_SEGMENTER  # the package default, overridable per run
    # with the {{ $VAR }} placeholders filled as `prefect deploy` does, the flow accepts them
    placeholders = set(re.findall(r"\{\{ \$(\w+) \}\}", yaml.safe_dump(params)))
    env = {var: str(tmp_path / var.lower()) for var in placeholders}
    if "HTS_DASK_SCHEDULER" in env:
        env["HTS_DASK_SCHEDULER"] = "tcp://hts-scheduler.hts.svc.cluster.local:8786"
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    filled = apply_values(params, {}, remove_notset=False)
    assert "{{" not in yaml.safe_dump(filled)
    validated = flow.validate_parameters(filled)
    assert validated["model"] == DEFAULT_SEGMENTER
    assert deployment["work_pool"]["name"] == "hts"


def test_nightly_runs_on_a_cron_schedule(prefect_yaml: dict[str, Any]) -> None:
    from prefect.client.schemas.schedules import CronSchedule

    (schedule,) = _deployment(prefect_yaml, "nightly")["schedules"]
    cron = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert cron.cron == "0 2 * * *" and schedule["active"] is True


def test_reprocessing_runs_on_the_cluster_with_retries(prefect_yaml: dict[str, Any]) -> None:
    params = _deployment(prefect_yaml, "reprocess")["parameters"]
    assert params["cluster"]["scheduler"] == "{{ $HTS_DASK_SCHEDULER }}"
    assert params["retries"] >= 1 and params["plates_in_parallel"] >= 1
    assert _deployment(prefect_yaml, "reprocess")["schedules"] == []


def test_workers_run_flows_from_the_repository(prefect_yaml: dict[str, Any]) -> None:
    (step,) = prefect_yaml["pull"]
    assert step["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ $HTS_REPO }}"


# --- Kubernetes ---------------------------------------------------------------------------
def test_dask_cluster_has_a_gpu_worker_group() -> None:
    cluster = _manifests()[("DaskCluster", "hts")]
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1"
    worker = cluster["spec"]["worker"]
    assert worker["replicas"] >= 1
    (container,) = worker["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    args = container["args"]
    assert args[:2] == ["dask", "worker"]
    assert args[args.index("--resources") + 1] == "GPU=1"  # hts schedules one task per GPU
    assert {"name": "HTS_CACHE_DIR", "value": "/cache/hts"} in container["env"]
    scheduler = cluster["spec"]["scheduler"]
    assert scheduler["spec"]["containers"][0]["args"] == ["dask", "scheduler"]
    service = scheduler["service"]
    assert service["selector"]["dask.org/cluster-name"] == cluster["metadata"]["name"]
    assert {p["port"] for p in service["ports"]} >= {8786}


def test_prefect_worker_polls_the_pool_and_reaches_the_server() -> None:
    manifests = _manifests()
    pod = manifests[("Deployment", "prefect-worker")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"][:3] == ["prefect", "worker", "start"]
    command = container["command"]
    assert command[command.index("--pool") + 1] == "hts"
    assert command[command.index("--type") + 1] == "process"
    env = {e["name"]: e["value"] for e in container["env"]}
    server = manifests[("Service", "prefect-server")]
    port = server["spec"]["ports"][0]["port"]
    assert env["PREFECT_API_URL"] == f"http://prefect-server.hts.svc.cluster.local:{port}/api"
    assert env["HTS_REPO"] == container["workingDir"] == "/opt/hts"


def test_flows_and_dask_workers_share_the_data_volume() -> None:
    manifests = _manifests()
    claims = {name for kind, name in manifests if kind == "PersistentVolumeClaim"}
    data = manifests[("PersistentVolumeClaim", "hts-data")]
    assert data["spec"]["accessModes"] == ["ReadWriteMany"]
    pods = [
        manifests[("DaskCluster", "hts")]["spec"]["worker"]["spec"],
        manifests[("Deployment", "prefect-worker")]["spec"]["template"]["spec"],
    ]
    for pod in pods:
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["data"] == "/data"
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "hts-data"
    for pod_claims in (
        v["persistentVolumeClaim"]["claimName"]
        for doc in manifests.values()
        if doc["kind"] == "Deployment"
        for v in doc["spec"]["template"]["spec"].get("volumes", [])
        if "persistentVolumeClaim" in v
    ):
        assert pod_claims in claims


def test_every_container_uses_the_hts_image() -> None:
    kustomization = _yaml_docs(K8S / "kustomization.yaml")[0]
    (image,) = kustomization["images"]
    found = re.findall(r"image: (\S+)", "".join(p.read_text() for p in K8S.glob("*.yaml")))
    assert found and {i.split(":")[0] for i in found} == {image["name"]}


# --- Dockerfile -----------------------------------------------------------------------------
def _instructions(path: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_gpu_image_has_cuda_tensorrt_and_hts() -> None:
    steps = _instructions(DOCKERFILE)
    args = dict(a.split("=", 1) for kind, a in steps if kind == "ARG")
    (base,) = [a for kind, a in steps if kind == "FROM"]
    image = args[base.strip("${}")] if base.startswith("$") else base
    assert image.startswith("nvidia/cuda:12.") and "ubuntu24.04" in image  # Python 3.12
    runs = " ".join(a for kind, a in steps if kind == "RUN")
    # the defaults of the build arguments make the GPU variant (tests/deploy builds a CPU one)
    assert 'pip install -e ".[${HTS_EXTRAS}]"' in runs
    assert {"gpu", "torch", "onnx", "flows"} <= set(args["HTS_EXTRAS"].split(","))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(
        d.startswith("tensorrt") for d in pyproject["project"]["optional-dependencies"]["gpu"]
    )
    assert 'python -c "import ${HTS_IMPORTS}"' in runs  # the build fails if one is missing
    assert args["HTS_IMPORTS"].strip('"') == "hts, flows, tensorrt"
    users = [a for kind, a in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    (entrypoint,) = [a for kind, a in steps if kind == "ENTRYPOINT"]
    assert yaml.safe_load(entrypoint) == ["tini", "--"]


def test_gpu_image_copies_what_exists_and_is_not_ignored() -> None:
    ignored = [
        line.strip()
        for line in DOCKERFILE.with_name("Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [shlex.split(a)[:-1] for kind, a in _instructions(DOCKERFILE) if kind == "COPY"]
    sources = [s for c in copies for s in c]
    assert {"hts", "flows", "pyproject.toml", "README.md", "prefect.yaml"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source not in ignored, source
