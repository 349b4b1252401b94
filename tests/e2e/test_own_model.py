"""Your own model and data through the whole engine, with real Ray: a sweep file's factory and data function, a
local package's factory (on no worker's path: shipped), a torchvision classifier; searched `model.*` keys in
trials.csv and the report; --resume (grown), `tuner rerun`, and tuner.run / tuner.load_run."""

import json
import subprocess
import sys
import textwrap

import pandas as pd
import torch

import tuner
from tuner import rerun
from tuner.sweep import cli as sweep_cli
from sweep_helpers import write_sweep

OWN = '''
import numpy as np
from torch import nn


class Tiny(nn.Module):
    def __init__(self, channels, num_classes, depth, width):
        super().__init__()
        layers, n_in = [], channels
        for _ in range(depth):
            layers += [nn.Conv2d(n_in, width, 3, padding=1), nn.ReLU()]
            n_in = width
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.body(x))


def tiny(image_shape, num_classes, depth=1, width=4):
    return Tiny(image_shape[0], num_classes, depth, width)


def stripes():
    """Three classes of 8x8 RGB images: horizontal, vertical or no stripes, with noise."""
    rng = np.random.default_rng(0)
    y = np.arange(600) % 3
    x = rng.integers(0, 100, (600, 8, 8, 3))
    x[y == 0, ::2] += 150
    x[y == 1, :, ::2] += 150
    x = x.astype(np.uint8)
    return x[:480], y[:480], x[480:], y[480:], ["horizontal", "vertical", "none"]

'''


def test_a_sweep_files_model_and_data_train_grow_rerun_and_load(local_ray, tmp_path, capsys):
    path = write_sweep(tmp_path, OWN + textwrap.dedent('''
        sweep = Sweep(data=stripes, model=tiny, fixed={"batch_size": 64, "model.width": 6},
                      space={"model.depth": tune.choice([1, 2]), "lr": tune.loguniform(3e-3, 3e-2)},
                      search="random", num_samples=2, max_epochs=2)
    '''))
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-dashboard"]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and (trials["status"] == "TERMINATED").all()
    assert set(trials["config/model.depth"]) <= {1, 2} and "config/model.width" not in trials  # fixed: no column
    best = json.loads((out / "best.json").read_text())
    assert best["config"]["model"] == "tuner_sweep_file:tiny" and best["config"]["model_args"]["width"] == 6
    assert best["classes"] == ["horizontal", "vertical", "none"] and best["image_shape"] == [3, 8, 8]
    assert "model.depth" in (out / "report.html").read_text()

    # --resume grows the sweep: its new trial runs on a worker from the run folder's copy of the sweep file
    assert sweep_cli.main(["--resume", str(out), "--num-samples", "3", "--no-dashboard", "--no-report"]) == 0
    grown = pd.read_csv(out / "trials.csv")
    assert len(grown) == 3 and (grown["status"] == "TERMINATED").all() and set(grown["round"]) == {1, 2}

    trial_id = grown.iloc[0]["trial_id"]
    capsys.readouterr()
    assert rerun.main([str(out), trial_id]) == 0
    assert "2 of 2 recorded epochs reproduced exactly" in capsys.readouterr().out

    light = subprocess.run([sys.executable, "-c", f"import sys, tuner; run = tuner.load_run({str(out)!r}); "
                            "print(len(run.trials), run.best.trial_id, 'torch' in sys.modules, 'ray' in sys.modules)"],
                           capture_output=True, text=True, timeout=120)
    assert light.stdout.split()[0] == "3" and light.stdout.split()[2:] == ["False", "False"], light.stderr

    run = tuner.load_run(out)
    assert len(run.trials) == 3 and set(run.history["trial_id"]) == set(grown["trial_id"])
    chosen = run.best
    assert chosen.trial_id == run.trials.iloc[0]["trial_id"] and chosen.test_acc == best_json(out)["test_acc"]
    assert set(chosen.searched) == {"lr", "model.depth"}
    model = run.model()
    assert type(model).__name__ == "Tiny" and len(model.body) == 2 * chosen.searched["model.depth"] + 2
    saved = torch.load(out / "best_model.pt", weights_only=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())


def best_json(out):
    return json.loads((out / "best.json").read_text())


def test_a_local_package_and_a_torchvision_model_in_one_grid(local_ray, tmp_path):
    package = tmp_path / "elsewhere" / "mynets"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "blocks.py").write_text("from torch import nn\n\n\ndef block(n_in, n_out):\n"
                                       "    return nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU())\n")
    (package / "nets.py").write_text(textwrap.dedent("""
        from torch import nn
        from mynets.blocks import block


        def mlp(image_shape, num_classes, width=8):
            c, h, w = image_shape
            return nn.Sequential(nn.Flatten(), block(c * h * w, width), nn.Linear(width, num_classes))
    """))
    # the package is on the driver's path only: Ray's workers get it by value with the trials
    path = write_sweep(tmp_path, textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(package.parent)!r})

        sweep = Sweep(data="synthetic:3x32x32", subset=100, fixed={{"batch_size": 50}}, search="grid", max_epochs=1,
                      space={{"model": tune.grid_search(["mynets.nets:mlp", "torchvision:resnet18"])}})
    """))
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-dashboard", "--no-report"]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert sorted(trials["config/model"]) == ["mynets.nets:mlp", "torchvision:resnet18"]
    assert (trials["status"] == "TERMINATED").all(), trials["error"].tolist()
    spec = json.loads((out / "spec.json").read_text())
    assert spec["model_changes"] == {"torchvision:resnet18": [
        "conv1: 7x7 stride 2 -> 3x3 stride 1, maxpool removed (32x32 images are small)"]}
    resnet = trials[trials["config/model"] == "torchvision:resnet18"].iloc[0]
    assert resnet["num_params"] == 11_173_962  # ResNet-18 with a 3x3 stem and 10 outputs


def test_tuner_run_takes_a_sweep_object_and_returns_its_run(local_ray, tmp_path, capsys):
    from ray import tune

    from tuner import Sweep

    sweep = Sweep(data="synthetic:1x8x8", model="mlp", fixed={"hidden": (16,), "batch_size": 100}, max_epochs=1,
                  space={"lr": tune.grid_search([1e-3, 1e-2])}, search="grid")
    run = tuner.run(sweep, results=str(tmp_path / "run"), report=False, set={"optimizer": "sgd"})
    assert isinstance(run, tuner.Run) and len(run.trials) == 2 and (run.trials["config/lr"] > 0).all()
    assert run.best.config["optimizer"] == "sgd" and 0 <= run.best.test_acc <= 1
    assert "chosen: trial" in capsys.readouterr().out
    assert run.model()(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    # a sweep defined without a file says how to continue it, instead of resuming something else
    assert "tuner.run(sweep, resume=RUN_DIR)" in (tmp_path / "run" / "sweep.py").read_text()
