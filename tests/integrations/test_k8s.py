"""The Kubernetes manifests (k8s/*.yaml) and the Dockerfile they run, offline.

Checks the fields KubeRay needs and the promises the comments make: the image is the one the
Dockerfile builds, its Ray is the installed Ray and cluster.yaml's, GPU workers scale from 0,
the dashboard stays inside the cluster, every volume a pod mounts exists, and the RayJob's
entrypoint is a command tuner.sweep accepts, naming a sweep file that is in the image.
"""

import re
import shlex
from pathlib import Path

import pytest
import ray
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
IMAGE = "tuner:latest"  # what `docker build -t tuner:latest .` makes; the manifests say to replace it


def documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


DOCS = documents()


def of_kind(kind: str) -> list[tuple[str, dict]]:
    return [(f, d) for f, d in DOCS if d["kind"] == kind]


def cluster_specs() -> list[tuple[str, dict]]:
    """Every RayCluster spec: RayCluster.spec and RayJob.spec.rayClusterSpec."""
    specs = [(f"{f}:RayCluster/{d['metadata']['name']}", d["spec"]) for f, d in of_kind("RayCluster")]
    specs += [(f"{f}:RayJob/{d['metadata']['name']}", d["spec"]["rayClusterSpec"]) for f, d in of_kind("RayJob")]
    return specs


def dockerfile() -> dict:
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    workdirs = re.findall(r"^WORKDIR\s+(\S+)", text, re.M)
    copied = {}  # source -> where it lands in the image
    for line in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)$", text, re.M):
        *sources, dest = line.split()
        for source in sources:
            source = source.rstrip("/")
            copied[source] = dest + source if dest.endswith("/") else dest
    return {"text": text, "from": froms, "workdir": workdirs[-1] if workdirs else None, "copied": copied}


def ray_version_of(image: str) -> str:
    match = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-py3\d+-(?:gpu|cu\d+)", image)
    assert match, f"not a Ray GPU image tag: {image}"
    return match.group(1)


def test_manifests_exist():
    kinds = {d["kind"] for _, d in DOCS}
    assert {"RayCluster", "RayJob"} <= kinds


@pytest.mark.parametrize("name, doc", DOCS, ids=[f"{f}:{d.get('kind')}" for f, d in DOCS])
def test_every_document_is_a_kubernetes_object(name, doc):
    assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], name
    assert isinstance(doc.get("kind"), str) and doc["kind"], name
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), name
    if doc["kind"] in ("RayCluster", "RayJob"):
        assert doc["apiVersion"] == "ray.io/v1", name


def pod_specs(spec: dict) -> list[tuple[str, dict]]:
    pods = [("head", spec["headGroupSpec"]["template"]["spec"])]
    pods += [(g["groupName"], g["template"]["spec"]) for g in spec["workerGroupSpecs"]]
    return pods


@pytest.mark.parametrize("where, spec", cluster_specs(), ids=[w for w, _ in cluster_specs()])
def test_ray_cluster_spec(where, spec):
    head = spec["headGroupSpec"]
    head_container = head["template"]["spec"]["containers"][0]
    assert head_container["image"] == IMAGE, f"{where}: head image {head_container['image']}, not {IMAGE}"
    assert isinstance(head["rayStartParams"], dict), where
    # the Ray version KubeRay is told is the one in the image
    image_ray = ray_version_of(dockerfile()["from"][-1])
    assert spec["rayVersion"] == image_ray, f"{where}: rayVersion {spec['rayVersion']}, the image has Ray {image_ray}"
    assert spec["enableInTreeAutoscaling"] is True, where

    groups = spec["workerGroupSpecs"]
    assert groups, where
    assert len({g["groupName"] for g in groups}) == len(groups), f"{where}: duplicate groupName"
    for group in groups:
        label = f"{where} group {group.get('groupName')}"
        assert group["groupName"], label
        assert isinstance(group["rayStartParams"], dict), label
        low, high = group["minReplicas"], group["maxReplicas"]
        assert 0 <= low <= group.get("replicas", low) <= high, f"{label}: replicas {low}..{high}"
        gpus = [c["resources"]["limits"].get("nvidia.com/gpu", 0) for c in group["template"]["spec"]["containers"]]
        assert any(int(g) >= 1 for g in gpus), f"{label}: no container with nvidia.com/gpu limits"
        assert low == 0, f"{label}: GPU pods should scale from 0"

    for group_name, pod in pod_specs(spec):
        for container in pod["containers"]:
            assert container["image"] == IMAGE, f"{where} {group_name}: image {container['image']}, not {IMAGE}"
    # KubeRay's CRD types rayStartParams as map[string]string: a bare YAML number or bool is rejected
    for params in [head["rayStartParams"]] + [g["rayStartParams"] for g in groups]:
        for key, value in params.items():
            assert isinstance(value, str), f"{where}: rayStartParams {key}: {value!r} must be a string"


@pytest.mark.parametrize("where, spec", cluster_specs(), ids=[w for w, _ in cluster_specs()])
def test_dashboard_stays_inside_the_cluster(where, spec):
    head = spec["headGroupSpec"]
    # 0.0.0.0 inside the pod is fine only behind a ClusterIP service (the default)
    assert head.get("serviceType", "ClusterIP") == "ClusterIP", f"{where}: serviceType {head['serviceType']}"
    assert "headService" not in head or head["headService"].get("spec", {}).get("type", "ClusterIP") == "ClusterIP"
    assert spec.get("authOptions", {}).get("mode") == "token", where
    for group_name, pod in pod_specs(spec):
        assert not pod.get("hostNetwork"), f"{where} {group_name}"
        for container in pod["containers"]:
            for port in container.get("ports", []):
                assert "hostPort" not in port, f"{where} {group_name}: hostPort {port}"


def test_no_object_exposes_anything_outside_the_cluster():
    for name, doc in DOCS:
        assert doc["kind"] != "Ingress", name
        if doc["kind"] == "Service":
            assert doc.get("spec", {}).get("type", "ClusterIP") == "ClusterIP", name


@pytest.mark.parametrize("where, spec", cluster_specs(), ids=[w for w, _ in cluster_specs()])
def test_every_mounted_volume_exists(where, spec):
    claims = {d["metadata"]["name"] for _, d in of_kind("PersistentVolumeClaim")}
    for group_name, pod in pod_specs(spec):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{where} {group_name}: volume {mount['name']} not defined"
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert claim in claims, f"{where} {group_name}: claim {claim} is not in k8s/"


def mounts(pod: dict) -> list[str]:
    return [m["mountPath"] for c in pod["containers"] for m in c.get("volumeMounts", [])]


def under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


@pytest.mark.parametrize("name, job", of_kind("RayJob"), ids=[d["metadata"]["name"] for _, d in of_kind("RayJob")])
def test_rayjob_runs_a_sweep_from_the_image(name, job):
    from tuner.sweep.load import load
    from tuner.sweep.cli import parser

    entrypoint = job["spec"]["entrypoint"]
    assert "python -m tuner.sweep" in entrypoint, name
    argv = shlex.split(entrypoint)
    assert argv[:3] == ["python", "-m", "tuner.sweep"], name
    try:
        args = parser().parse_args(argv[3:])
    except SystemExit:  # argparse printed the reason (unknown flag, missing value) to stderr
        pytest.fail(f"{name}: tuner.sweep rejects the entrypoint's arguments: {argv[3:]}")
    assert args.address == "auto", f"{name}: the driver must join the RayJob's cluster"

    # the sweep file is in the image: the Dockerfile copies sweeps/ to WORKDIR/sweeps
    d = dockerfile()
    assert d["copied"].get("sweeps") == f"{d['workdir']}/sweeps", f"Dockerfile: sweeps/ not copied to WORKDIR: {d['copied']}"
    sweep_path = Path(args.sweep_file)
    relative = sweep_path.relative_to(d["workdir"]) if sweep_path.is_absolute() else sweep_path
    assert relative.parts[0] == "sweeps", f"{name}: {args.sweep_file} is not under sweeps/"
    assert (ROOT / relative).is_file(), f"{name}: {relative} is not in the repository"
    load(ROOT / relative)  # and it is a valid sweep file

    cluster = job["spec"]["rayClusterSpec"]
    head_pod = cluster["headGroupSpec"]["template"]["spec"]
    # results on a volume the head and every worker mount (trials checkpoint from worker nodes)
    assert "--results" in argv, f"{name}: no --results: the run folder would stay in the head pod"
    results = argv[argv.index("--results") + 1]
    if "://" not in results:  # a bucket URI (s3://...) needs no volume
        assert under(results, mounts(head_pod)), f"{name}: --results {results} is on no volume of the head"
        for group in cluster["workerGroupSpecs"]:
            assert under(results, mounts(group["template"]["spec"])), \
                f"{name}: --results {results} is not mounted in worker group {group['groupName']}"
    # TUNER_DATA points at a mounted volume of the head, where the driver loads the data
    env = {e["name"]: e.get("value") for c in head_pod["containers"] for e in c.get("env", [])}
    assert "TUNER_DATA" in env, name
    assert under(env["TUNER_DATA"], mounts(head_pod)), f"{name}: TUNER_DATA={env['TUNER_DATA']} is not mounted"
    assert job["spec"]["shutdownAfterJobFinishes"] is True, name


def test_dockerfile_builds_tuner_on_the_installed_ray():
    d = dockerfile()
    assert len(d["from"]) == 1, d["from"]
    version = ray_version_of(d["from"][0])
    # same release line as the Ray tuner is tested with (exact equality would fail CI on every
    # Ray patch release); the image, cluster.yaml and rayVersion must agree exactly (below)
    assert version.split(".")[:2] == ray.__version__.split(".")[:2], \
        f"Dockerfile Ray {version} vs installed ray {ray.__version__}"
    assert re.search(r"^RUN pip install --no-cache-dir -e \.\s*$", d["text"], re.M)
    assert d["workdir"] and d["workdir"].startswith("/")
    # `pip install -e .` in WORKDIR needs these there
    for needed in ("pyproject.toml", "README.md", "src", "sweeps"):
        assert d["copied"].get(needed) == f"{d['workdir']}/{needed}", f"Dockerfile: {needed} not copied to WORKDIR"
        assert (ROOT / needed).exists()


def test_dockerfile_and_cluster_yaml_use_the_same_ray_image():
    cluster = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    assert cluster["docker"]["image"] == dockerfile()["from"][0]
