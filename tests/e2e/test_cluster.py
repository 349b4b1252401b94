"""cluster.yaml (`ray up`) against Ray's own cluster-launcher schema, offline.

`check` validates the file as written against ray/autoscaler/ray-schema.json (the schema
`ray up` uses), then does what `ray up` does before it calls AWS: fill in the provider's defaults
(ray/autoscaler/aws/defaults.yaml) and validate the result (schema and node-type rules). No boto3,
no credentials, no network. A misspelled key or a wrong type fails here instead of at `ray up`.
"""

import copy
import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest
import ray
import ray.autoscaler
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_YAML = ROOT / "cluster.yaml"
DASHBOARD_PORT = 8265


def load() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text())


SCHEMA = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def schema_check(config: dict) -> None:
    """jsonschema.validate as Ray calls it, with the key path in a one-line message instead of the schema dump."""
    error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(SCHEMA)(SCHEMA).iter_errors(config))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "top level"
        raise jsonschema.ValidationError(f"cluster.yaml, {where}: {error.message}")


def check(config: dict) -> dict:
    """Ray's own checks of a cluster config (commands._bootstrap_config up to the provider calls)."""
    # The file as written first: prepare_config trips over some mistakes with a bare TypeError or
    # AssertionError before its schema check could name the key.
    schema_check(config)
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


@pytest.fixture(scope="module")
def config() -> dict:
    return load()


@pytest.fixture(scope="module")
def prepared(config) -> dict:
    return check(config)


def gpu_worker_types(config: dict) -> dict:
    return {name: t for name, t in config["available_node_types"].items()
            if name != config["head_node_type"] and t["resources"].get("GPU", 0) > 0}


def test_cluster_yaml_passes_rays_validation(prepared):
    assert prepared["provider"]["type"] == "aws"
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_validation_needs_no_boto3(config, monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # any `import boto3` now raises ImportError
    monkeypatch.setitem(sys.modules, "botocore", None)
    check(config)


@pytest.mark.parametrize("mutate, error", [
    # a misspelled top-level key
    (lambda c: c.update(head_node_typo=c["head_node_type"]), "'head_node_typo' was unexpected"),
    # a misspelled key inside a node type
    (lambda c: c["available_node_types"]["gpu_worker"].update(
        max_worker=c["available_node_types"]["gpu_worker"].pop("max_workers")), "'max_worker' was unexpected"),
    # a misspelled docker key
    (lambda c: c["docker"].update(imgae=c["docker"].pop("image")), "'imgae' was unexpected"),
    # wrong types
    (lambda c: c.update(max_workers="8"), "'8' is not of type 'integer'"),
    (lambda c: c["available_node_types"]["gpu_worker"]["resources"].update(GPU=0.5), "0.5 is not of type 'integer'"),
    (lambda c: c.update(setup_commands="pip install -e ~/tuner"), "is not of type 'array'"),
])
def test_a_typo_or_wrong_type_fails_validation(config, mutate, error):
    broken = copy.deepcopy(config)
    mutate(broken)
    with pytest.raises(jsonschema.ValidationError) as info:
        check(broken)
    assert error in info.value.message


def test_min_workers_above_max_workers_fails(config):
    broken = copy.deepcopy(config)
    broken["available_node_types"]["gpu_worker"]["min_workers"] = broken["max_workers"] + 1
    with pytest.raises(ValueError, match="max_workers"):
        check(broken)


def test_gpu_workers_autoscale_from_zero(config):
    workers = gpu_worker_types(config)
    assert workers, "no worker type with GPU resources"
    for name, node in workers.items():
        assert node.get("min_workers", 0) == 0, f"{name}: GPU workers must scale from 0"
        assert node["resources"]["GPU"] >= 1
        assert node["node_config"]["InstanceType"].startswith(("g", "p")), f"{name}: not a GPU instance type"
        # the comment promises the two caps are kept equal
        assert node["max_workers"] == config["max_workers"]
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0


def test_gpu_worker_fits_the_sweeps_gpu_packing(config):
    """Each GPU worker has the CPUs for as many trials as its GPUs take (gpu: 0.25 -> 4 per GPU)."""
    from tuner.sweep.load import load
    sweeps = [load(p) for p in sorted((ROOT / "sweeps").glob("*.py"))]
    gpu_sweeps = [s for s in sweeps if s.gpu > 0]
    assert gpu_sweeps, "no sweep file asks for a GPU"
    for name, node in gpu_worker_types(config).items():
        res = node["resources"]
        for s in gpu_sweeps:
            trials = res["GPU"] / s.gpu
            assert res["CPU"] >= trials * s.cpu, (
                f"{name}: {res['CPU']} CPUs hold {res['CPU'] / s.cpu:g} trials of {s.name} "
                f"(cpu={s.cpu:g}), its GPUs {trials:g} (gpu={s.gpu:g})")


def _covers_dashboard(rule: dict) -> bool:
    if str(rule.get("IpProtocol")) == "-1":
        return True
    low, high = rule.get("FromPort", -1), rule.get("ToPort", -1)
    return low == -1 or low <= DASHBOARD_PORT <= high


def test_no_inbound_rule_opens_the_dashboard(prepared):
    rules = prepared["provider"].get("security_group", {}).get("IpPermissions", [])
    opened = [r for r in rules if _covers_dashboard(r)]
    assert not opened, f"security group rules open port {DASHBOARD_PORT}: {opened}"
    for name, node in prepared["available_node_types"].items():
        # a security group of one's own would bypass the rules Ray creates (checked above)
        assert "SecurityGroupIds" not in node["node_config"], name
        assert "NetworkInterfaces" not in node["node_config"], name
    docker_options = " ".join(str(o) for key in ("run_options", "head_run_options", "worker_run_options")
                              for o in prepared.get("docker", {}).get(key, []))
    assert not re.search(r"(-p|--publish)[ =]\S*8265", docker_options)


def test_dashboard_listens_on_the_head_loopback_only(prepared):
    # Ray's AWS defaults start the head with --dashboard-host=0.0.0.0; cluster.yaml overrides them.
    starts = [c for c in prepared["head_start_ray_commands"] if "ray start" in c]
    assert starts
    for command in starts:
        assert "--dashboard-host=127.0.0.1" in command, command
    assert not any("0.0.0.0" in c for c in prepared["head_start_ray_commands"] + prepared["worker_start_ray_commands"])


def test_token_auth_is_on_and_every_node_gets_the_token(prepared):
    assert "-e RAY_AUTH_MODE=token" in prepared["docker"]["run_options"]
    assert prepared["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"


def test_file_mounts_exist_and_hold_what_setup_installs(prepared):
    for remote, local in prepared["file_mounts"].items():
        if local.startswith("~"):
            continue  # the user's own files (the auth token)
        assert (ROOT / local).exists(), f"file_mounts {remote}: {local} not in the repository"
        assert (ROOT / local).resolve() != ROOT, "mounting the whole repository hashes and copies .venv/, runs/"
    mounted = set(prepared["file_mounts"])
    for needed in ("~/tuner/pyproject.toml", "~/tuner/README.md", "~/tuner/src", "~/tuner/sweeps"):
        assert needed in mounted
    assert any(re.search(r"pip install .*-e ~/tuner\b", c) for c in prepared["setup_commands"])
    # the head's autoscaler needs boto3 to launch workers (Ray's AWS defaults install it there)
    assert any("boto3" in c for c in prepared["head_setup_commands"])


def test_docker_image_runs_the_installed_ray(config):
    image = config["docker"]["image"]
    match = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-py3\d+-(gpu|cu\d+)", image)
    assert match, f"not a Ray GPU image tag: {image}"
    # `ray up` and the cluster should run the same Ray release line (validate_config warns when
    # the cluster's is newer); exact equality would fail CI on every Ray patch release
    assert match.group(1).split(".")[:2] == ray.__version__.split(".")[:2], \
        f"{image} vs installed ray {ray.__version__}"
