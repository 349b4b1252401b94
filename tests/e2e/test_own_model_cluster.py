"""The sweep's own code travels with its trials: on a multi-node Ray (a head without CPUs and two worker nodes, all
on 127.0.0.1), a model of the sweep file that uses a local package on the driver's sys.path only trains on the
worker nodes, whose processes can import neither the sweep file nor the package."""

import os
import subprocess
import textwrap

import pandas as pd

from sweep_helpers import LOOPBACK_ENV, loopback_cluster, sweep_command, trial_results, write_sweep


def test_a_sweep_files_model_and_its_local_package_train_on_worker_nodes(tmp_path):
    package = tmp_path / "code" / "mylayers"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from torch import nn\n\n\ndef hidden(n_in, n_out):\n"
                                         "    return nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU())\n")
    sweep_file = write_sweep(tmp_path, textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(package.parent)!r})    # the driver's path only
        from torch import nn
        import mylayers


        def net(image_shape, num_classes, width=8):
            c, h, w = image_shape
            return nn.Sequential(nn.Flatten(), mylayers.hidden(c * h * w, width), nn.Linear(width, num_classes))


        sweep = Sweep(data="synthetic:1x8x8", model=net, fixed={{"batch_size": 100}}, search="grid", max_epochs=1,
                      space={{"model.width": tune.grid_search([4, 8])}})
    """))
    elsewhere = tmp_path / "driver"
    elsewhere.mkdir()
    out = tmp_path / "run"
    cluster = loopback_cluster()
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        done = subprocess.run(sweep_command(sweep_file, out, "--address", cluster.address), cwd=elsewhere,
                              env={**os.environ, **LOOPBACK_ENV}, capture_output=True, text=True, timeout=400)
    finally:
        cluster.shutdown()
    assert done.returncode == 0, done.stderr[-2000:]
    trials = pd.read_csv(out / "trials.csv")
    # the head has no CPUs: both trials trained in worker nodes' processes
    assert sorted(trials["config/model.width"]) == [4, 8] and (trials["status"] == "TERMINATED").all()
    assert all(records[-1]["epoch"] == 1 for records in trial_results(out).values())
