"""The sweep's own code travels with its trials: on a multi-node Ray (a head without CPUs and two worker nodes, all
on 127.0.0.1), a model of the sweep file that uses a local package on the driver's sys.path only trains on the
worker nodes, whose processes can import neither the sweep file nor the package."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pandas as pd

from sweep_helpers import LOOPBACK_ENV, loopback_workers, sweep_command, trial_results, write_sweep


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
    with loopback_workers(2) as cluster:
        done = subprocess.run(sweep_command(sweep_file, out, "--address", cluster.address), cwd=elsewhere,
                              env={**os.environ, **LOOPBACK_ENV}, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    trials = pd.read_csv(out / "trials.csv")
    # the head has no CPUs: both trials trained in worker nodes' processes
    assert sorted(trials["config/model.width"]) == [4, 8] and (trials["status"] == "TERMINATED").all()
    assert all(records[-1]["epoch"] == 1 for records in trial_results(out).values())


NETS = '''
import importlib

from torch import nn


def net(image_shape, num_classes, width=8):
    blocks = importlib.import_module("mymodels.blocks")  # a submodule imported late: only an importable package has it
    c, h, w = image_shape
    return nn.Sequential(nn.Flatten(), blocks.hidden(c * h * w, width), nn.Linear(width, num_classes))
'''
BLOCKS = "from torch import nn\n\n\ndef hidden(n_in, n_out):\n    return nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU())\n"


def test_a_package_given_with_code_reaches_every_node_and_stays_with_the_run(tmp_path):
    """--code: the package reaches the worker nodes through Ray's runtime environment (py_modules), not by value (the
    model imports a submodule only when it runs); the run folder's copy, hashed in spec.json, is what --resume and
    `tuner rerun` import after the original is gone."""
    package = tmp_path / "src" / "mymodels"
    package.mkdir(parents=True)
    files = {"__init__.py": "", "nets.py": NETS, "blocks.py": BLOCKS}
    for name, text in files.items():
        (package / name).write_text(text)
    sweep_file = write_sweep(tmp_path, """
        from mymodels.nets import net   # importable through --code only


        sweep = Sweep(data="synthetic:1x8x8", model=net, fixed={"batch_size": 100}, search="random", num_samples=2,
                      space={"model.width": tune.choice([4, 8])}, max_epochs=1)
    """)
    elsewhere = tmp_path / "driver"
    elsewhere.mkdir()
    out = tmp_path / "run"
    with loopback_workers(2) as cluster:
        done = subprocess.run(sweep_command(sweep_file, out, "--address", cluster.address, "--code", "../src/mymodels"),
                              cwd=elsewhere, env={**os.environ, **LOOPBACK_ENV}, capture_output=True, text=True,
                              timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and (trials["status"] == "TERMINATED").all(), trials["error"].tolist()
    spec = json.loads((out / "spec.json").read_text())
    assert spec["sweep"]["code"] == [str(package)]
    assert spec["code"]["mymodels"]["files"] == {f"mymodels/{name}": hashlib.sha256(text.encode()).hexdigest()
                                                 for name, text in files.items()}
    assert (out / "code" / "mymodels" / "blocks.py").read_text() == BLOCKS

    shutil.rmtree(tmp_path / "src")  # from now on only the run folder has the package
    rerun = subprocess.run([sys.executable, "-m", "tuner.rerun", str(out), trials.iloc[0]["trial_id"]], cwd=elsewhere,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0 and "1 of 1 recorded epochs reproduced exactly" in rerun.stdout, rerun.stderr[-2000:]
    grown = subprocess.run([sys.executable, "-m", "tuner.sweep", "--resume", str(out), "--num-samples", "3",
                            "--no-report", "--no-dashboard"], cwd=elsewhere, capture_output=True, text=True,
                           timeout=400)  # a local Ray: its workers import the run folder's copy
    assert grown.returncode == 0, grown.stderr[-2000:]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and (trials["status"] == "TERMINATED").all(), trials["error"].tolist()
