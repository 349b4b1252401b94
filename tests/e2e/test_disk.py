"""Issue 19, bounded disk, on a real sweep: each trial keeps one checkpoint (the latest, which holds its best
epoch's weights), a trial that ended by itself keeps it without optimizer state, and the chosen trial is still
tested from it."""

import json

import pandas as pd

from tuner.sweep import cli as sweep_cli
from tuner.train.evaluation import load_file
from sweep_helpers import write_sweep


def test_each_trial_keeps_one_checkpoint_and_an_ended_trial_keeps_only_its_best_weights(local_ray, tmp_path):
    path = write_sweep(tmp_path, """
sweep = Sweep(data="synthetic", fixed={"hidden": (16,), "batch_size": 200}, space={"lr": tune.loguniform(1e-3, 1e-1)},
              search="random", trial_scheduler="none", num_samples=2, max_epochs=3)
""")
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-report"]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and (trials["status"] == "TERMINATED").all()
    folders = sorted((out / "ray").glob("trial_*"))
    assert len(folders) == 2
    for folder in folders:
        checkpoints = sorted(folder.glob("checkpoint_*"))
        assert len(checkpoints) == 1, checkpoints  # the latest only; it holds the best epoch's weights too
        state = load_file(checkpoints[0] / "state.pt")
        assert state["epoch"] == 3 and "optimizer" not in state and "best_model" in state
    assert json.loads((out / "best.json").read_text())["test_acc"] > 0.2  # the test evaluation read it


def test_a_trial_cut_short_keeps_only_its_best_weights_once_the_phase_has_ended(local_ray, tmp_path):
    """ASHA stops weak trials after an epoch: their last checkpoint was saved as a running trial's (it could not
    know no epoch would follow); once the search has ended it holds what the report and the test evaluation read."""
    path = write_sweep(tmp_path, """
sweep = Sweep(data="synthetic", fixed={"hidden": (16,), "batch_size": 100}, space={"lr": tune.loguniform(1e-5, 1e-1)},
              search="random", trial_scheduler="asha", grace_period=1, reduction_factor=2, num_samples=6,
              max_epochs=4, max_concurrent=2)
""")
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-report"]) == 0
    trials = pd.read_csv(out / "trials.csv")
    stopped = trials[trials["status"] == "STOPPED_EARLY"]
    assert len(stopped) >= 1 and (stopped["epochs"] < 4).all()
    for trial_id in trials["trial_id"]:
        (folder,) = (out / "ray").glob(f"trial_*{trial_id}*")
        (checkpoint,) = folder.glob("checkpoint_*")
        state = load_file(checkpoint / "state.pt")
        assert "optimizer" not in state and "model" not in state and "best_model" in state, trial_id
    assert json.loads((out / "best.json").read_text())["test_acc"] > 0.2
