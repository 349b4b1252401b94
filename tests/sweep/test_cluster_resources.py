"""Trials take the resources their sweep file asks for, on a real multi-node Ray on this machine."""

import os
import subprocess

import pandas as pd
import pytest

from sweep_helpers import LOOPBACK_ENV, loopback_cluster, sweep_command, trial_results, write_sweep


@pytest.fixture(scope="module")
def cluster():
    """A head without CPUs and one worker with 4 CPUs and 1 GPU. Ray schedules GPU shares by count, so a node can
    declare a GPU this machine lacks; trials fall back to CPU."""
    cluster = loopback_cluster()
    try:
        cluster.add_node(num_cpus=4, num_gpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def test_quarter_gpus_pack_four_trials_onto_one_gpu(tmp_path, cluster):
    sweep_file = write_sweep(tmp_path, """
        sweep = Sweep(data="synthetic", fixed={"hidden": (256, 256), "batch_size": 10, "scheduler": "none"},
                      space={"lr": tune.grid_search([1e-3, 2e-3, 3e-3, 4e-3])}, search="grid",
                      trial_scheduler="none", max_epochs=6, cpu=1, gpu=0.25)  # long enough to overlap
    """)
    out = tmp_path / "run"
    subprocess.run(sweep_command(sweep_file, out, "--address", cluster.address), check=True,
                   env={**os.environ, **LOOPBACK_ENV}, capture_output=True, timeout=300)

    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and (trials["status"] == "TERMINATED").all()
    spans = [(records[0]["reported_at"] - records[0]["epoch_time_s"], records[-1]["reported_at"])
             for records in trial_results(out).values()]
    latest_start, earliest_end = max(start for start, _ in spans), min(end for _, end in spans)
    assert latest_start < earliest_end, spans  # all four trained at the same time on the one GPU


def test_a_trial_no_node_can_run_is_an_error_after_a_bounded_wait_not_a_hang(tmp_path, cluster):
    sweep_file = write_sweep(tmp_path, """
        sweep = Sweep(data="synthetic", fixed={"hidden": (16,), "batch_size": 100}, search="random",
                      space={"lr": tune.loguniform(1e-3, 1e-1)}, num_samples=1, max_epochs=1, cpu=1, gpu=2)
    """)
    done = subprocess.run(sweep_command(sweep_file, tmp_path / "run", "--address", cluster.address),
                          env={**os.environ, **LOOPBACK_ENV, "TUNER_RESOURCE_WAIT_S": "3"}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    error = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "a trial of 1 CPU, 2 GPU" in error[0] and "after 3 s" in error[0]
    assert "127.0.0.1" in error[0] and "4 CPU, 1 GPU" in error[0]  # the cluster's nodes, as Ray sees them
    assert not (tmp_path / "run").exists()
