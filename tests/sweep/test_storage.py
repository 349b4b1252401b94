"""Storage every node must reach: with --address, a results folder that a worker node cannot see is refused
before the sweep starts (today every trial would fail at its first checkpoint). The worker here is a real Ray
node started in its own mount namespace, where the run folder's parent is an empty tmpfs: another machine's view."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from sweep_helpers import LOOPBACK_ENV, TINY, loopback_cluster, write_sweep


NODE = """
import os, signal, sys, time
import ray._private.node, ray._private.parameter
params = ray._private.parameter.RayParams(node_ip_address="127.0.0.1", gcs_address=sys.argv[1], num_cpus=1,
    num_gpus=0, object_store_memory=150 * 1024 * 1024, min_worker_port=0, max_worker_port=0,
    include_log_monitor=False, node_manager_port=0)
params.dashboard_agent_listen_port = None
node = ray._private.node.Node(params, head=False, shutdown_at_exit=True, spawn_reaper=True)
signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
while True:
    time.sleep(1)
"""


def hidden_node(address: str, hidden: str) -> subprocess.Popen:
    """A Ray worker node (as ray.cluster_utils.Cluster.add_node starts one) in a mount namespace of its own, where
    `hidden` is an empty tmpfs: the node, its raylet and its workers see another disk there."""
    script = f"mount -t tmpfs tmpfs {hidden} && exec {sys.executable} -c '{NODE}' {address}"
    return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            env={**os.environ, **LOOPBACK_ENV}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_nodes(cluster, count: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    """The cluster's own GCS view (this process's ray module resolves 127.0.0.1 to the LAN address)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(cluster.global_state._live_node_ids()) >= count:
            return
        if proc.poll() is not None:
            pytest.fail(f"the worker node did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.5)
    pytest.fail("the worker node did not join")


def test_a_results_folder_a_worker_node_cannot_see_is_refused_before_the_sweep(tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.fail("this test needs root and util-linux's unshare (a mount namespace for the second node)")
    shared = tmp_path / "head-disk"
    shared.mkdir()
    sweep_file = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.grid_search([1e-3, 1e-2])}},
                      search="grid", trial_scheduler="none", max_epochs=1)
    """)
    cluster = loopback_cluster()
    node = None
    try:
        node = hidden_node(cluster.address, str(shared))
        wait_for_nodes(cluster, 2, node)
        out = shared / "run"
        done = subprocess.run([sys.executable, "-m", "tuner.sweep", str(sweep_file), "--results", str(out),
                               "--address", cluster.address, "--no-report"], capture_output=True, text=True,
                              timeout=300, env={**os.environ, **LOOPBACK_ENV})
    finally:
        if node is not None:
            os.killpg(node.pid, signal.SIGTERM)
            node.wait(timeout=60)
        cluster.shutdown()
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith(f"error: --results {out.resolve()} is not visible from 1 of 2 nodes"), error
    assert "s3://" in error
    assert not list(out.glob("ray/trial_*")) and not (out / "trials.csv").exists()  # no trial ran
