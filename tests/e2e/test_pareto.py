"""A two-objective sweep (val_acc, num_params) with real Ray and Optuna: every trial's measured latency_ms in
trials.csv, the Pareto front of the real trials (checked against the definition, not against fixed numbers), the
chosen configuration on it, the front in the CLI's table, the report and tuner.load_run(...).pareto."""

import json
import math

import pandas as pd

import tuner
from tuner.sweep import cli as sweep_cli
from sweep_helpers import write_sweep

SWEEP = '''
import numpy as np
from torch import nn


def net(image_shape, num_classes, width=4):
    c, h, w = image_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(), nn.Linear(width, num_classes))


def stripes():
    """Four classes of 6x6 grey images: stripes every row, every column, every other one, none; with noise."""
    rng = np.random.default_rng(0)
    y = np.arange(800) % 4
    x = rng.integers(0, 120, (800, 6, 6))
    x[y == 0, ::2] += 120
    x[y == 1, :, ::2] += 120
    x[y == 2, ::3] += 120
    return x[:640].astype(np.uint8), y[:640], x[640:].astype(np.uint8), y[640:], ["rows", "columns", "thirds", "none"]


sweep = Sweep(data=stripes, model=net, fixed={"batch_size": 32},
              space={"model.width": tune.choice([1, 2, 4, 32]), "lr": tune.loguniform(3e-3, 3e-2)},
              search="optuna", trial_scheduler="none", num_samples=6, max_epochs=3,
              objectives=[("val_acc", "max"), ("num_params", "min")])
'''


def _worse_or_equal(a, b, directions):
    """a is no better than b on every objective (directions: 'max'/'min' per objective)."""
    return all(x <= y if d == "max" else x >= y for x, y, d in zip(a, b, directions))


def _dominated_by(a, b, directions):
    return _worse_or_equal(a, b, directions) and list(a) != list(b)


def test_a_two_objective_sweep_has_its_pareto_front_chosen_from_shown_and_listed(local_ray, tmp_path, capsys):
    path = write_sweep(tmp_path, SWEEP)
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-dashboard"]) == 0
    printed = capsys.readouterr().out

    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 6 and (trials["status"] == "TERMINATED").all(), trials["error"].tolist()
    assert (trials["latency_ms"] > 0).all() and trials["latency_ms"].notna().all()  # measured after training

    run = tuner.load_run(out)
    front = run.pareto
    assert list(front.columns[-3:]) == ["trial", "pareto", "chosen"]
    points = {row["trial"]: (row["val_acc"], row["num_params"]) for _, row in front.iterrows()}
    assert len(points) == len(trials.groupby(["config/model.width", "config/lr"]))  # one seed: one per trial
    on_front = set(front.loc[front["pareto"], "trial"])
    assert len(on_front) >= 2, front  # a front to choose from: the sweep trades accuracy against size
    directions = ("max", "min")
    for trial, point in points.items():  # the definition, on the trials' own values
        beaten = any(_dominated_by(point, other, directions) for t, other in points.items() if t != trial)
        assert beaten == (trial not in on_front), (trial, point, points)
    for trial in on_front:  # the values are the trials' own
        row = trials[trials["trial_id"] == trial].iloc[0]
        assert points[trial] == (row["val_acc"], row["num_params"])

    best = json.loads((out / "best.json").read_text())
    chosen = front.loc[front["chosen"], "trial"].tolist()
    assert chosen == [best["trial_id"]] and best["trial_id"] in on_front
    assert best["val_acc"] == max(points[t][0] for t in on_front)  # the front's best on the first objective
    assert "Pareto front" in best["seeds"]["rule"]

    table = printed.split("Pareto front (val_acc, num_params)")[1].split("chosen: trial")[0]
    assert all(trial in table for trial in on_front)
    assert not any(trial in table for trial in set(points) - on_front)

    report = (out / "report.html").read_text()
    section = report.split("<h2>Pareto front (val_acc, num_params)</h2>")[1].split("<h2>")[0]
    assert "data:image/png" in section and (out / "report_files" / "pareto_front.png").exists()
    assert all(trial in section for trial in on_front)
    assert not any(trial in section for trial in set(points) - on_front)
    assert not math.isnan(best["num_params"])
