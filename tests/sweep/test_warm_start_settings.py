"""Issue 19: a warm start takes an earlier trial only if it trained with the same settings as the new sweep's,
including those one run fixed and the other left at their defaults."""

import json

import pandas as pd
from ray import tune

from tuner.search import warm
from tuner.sweep.spec import Sweep


def _old_run(folder, fixed_extra=None, subset=0):
    folder.mkdir()
    fixed = {"data": "synthetic", "model": "mlp", "epochs": 2, "best_metric": "val_acc", **(fixed_extra or {})}
    sweep = {"name": "old", "data": "synthetic", "model": "mlp", "search": "optuna", "metric": "val_acc",
             "max_epochs": 2, "seeds": [0], "subset": subset, "space": {"lr": "loguniform(0.0001, 0.1)"}}
    (folder / "spec.json").write_text(json.dumps({"sweep": sweep, "fixed_config": fixed, "cli": {}}))
    pd.DataFrame([{"trial_id": f"t{i}", "status": "TERMINATED", "config/lr": lr, "config/seed": 0, "val_acc": 0.5}
                  for i, lr in enumerate([1e-3, 1e-2])]).to_csv(folder / "trials.csv", index=False)
    pd.DataFrame([{"trial_id": f"t{i}", "epoch": e, "val_acc": 0.4 + 0.05 * e, "val_loss": 1.0}
                  for i in range(2) for e in (1, 2)]).to_csv(folder / "history.csv", index=False)
    return folder


def _sweep(**fixed):
    return Sweep(data="synthetic", model="mlp", fixed=fixed, space={"lr": tune.loguniform(1e-4, 1e-1)},
                 search="optuna", max_epochs=2, num_samples=4)


def test_a_setting_only_the_earlier_run_fixed_leaves_its_trials_out_with_the_reason(tmp_path):
    same = _old_run(tmp_path / "same")
    decayed = _old_run(tmp_path / "decayed", {"weight_decay": 0.1})
    result = warm.collect(_sweep(), [same, decayed])
    assert [t.source.split()[0] for t in result.taken] == [str(same)] * 2
    assert [(r["run"], r["why"]) for r in result.left_out] == [(str(decayed), "weight_decay is 0 here, 0.1 there")] * 2


def test_a_setting_only_the_new_sweep_fixes_leaves_the_earlier_trials_out(tmp_path):
    old = _old_run(tmp_path / "old")
    result = warm.collect(_sweep(label_smoothing=0.1, subset=500), [old])
    assert not result.taken
    assert {r["why"] for r in result.left_out} == {"label_smoothing is 0.1 here, 0 there"}


def test_a_run_on_a_cut_data_set_is_left_out(tmp_path):
    smoke = _old_run(tmp_path / "smoke", subset=500)
    result = warm.collect(_sweep(), [smoke])
    assert not result.taken and {r["why"] for r in result.left_out} == {"the sweep's subset is 0 images here, "
                                                                         "500 there"}
