"""Small real sweeps on synthetic data for the engine tests."""

import contextlib
import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuner.errors import run_cli

HEADER = "from ray import tune\nfrom tuner import Sweep\n\n"
TINY = '{"hidden": (32,), "batch_size": 100}'


def write_sweep(folder: Path, body: str, name: str = "tiny.py") -> Path:
    path = folder / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # resolve 127.0.0.1 as this node's address, not the LAN's


def loopback_cluster():
    """A multi-node Ray on this machine, on loopback only: a head without CPUs; tests add the worker nodes."""
    from ray.cluster_utils import Cluster

    os.environ.update(LOOPBACK_ENV)
    return Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1",
                                                         "include_dashboard": False})


@contextlib.contextmanager
def loopback_workers(count: int, num_cpus: int = 1) -> Iterator:
    """loopback_cluster with `count` worker nodes of `num_cpus` CPUs each, all up; shut down on leaving."""
    cluster = loopback_cluster()
    try:
        for _ in range(count):
            cluster.add_node(num_cpus=num_cpus, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def sweep_command(sweep_file: Path, results: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tuner.sweep", str(sweep_file), "--results", str(results), "--no-report",
            "--no-dashboard", *args]


def trial_results(run_dir: Path, folder: str = "ray") -> dict[str, list[dict]]:
    """Every result Ray Tune recorded, per trial id, in order (result.json lines)."""
    out = {}
    for path in sorted((run_dir / folder).glob("trial_*/result.json")):
        lines = []
        for line in path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:  # a line Tune is writing right now
                break
        if lines:
            out[path.parent.name.removeprefix("trial_")] = lines
    return out


def cli_error(capsys, main, *argv) -> str:
    """Run a command's `main` in-process as its command line does (tuner.errors.run_cli): it must exit 2 with one
    `error: ...` line on stderr, which is returned."""
    with pytest.raises(SystemExit) as exit_info:
        sys.exit(run_cli(main, [str(a) for a in argv]))
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]
