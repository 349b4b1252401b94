"""Population-based training through the real sweep engine (Ray Tune's PopulationBasedTraining, num_cpus=2):
a weak trial takes a strong one's checkpoint and trains on from that epoch with the perturbed learning rate."""

import pandas as pd
import pytest

from sweep_helpers import TINY, trial_results, write_sweep
from tuner.sweep import cli as sweep_cli

PBT_SWEEP = f"""
sweep = Sweep(data="synthetic", fixed={{**{TINY}, "optimizer": "sgd", "momentum": 0.9, "scheduler": "none",
                                "stuck_epochs": 0}},
              space={{"lr": tune.loguniform(1e-4, 0.3)}}, search="random", trial_scheduler="pbt",
              scheduler_options={{"perturbation_interval": 1, "quantile_fraction": 0.5, "resample_probability": 0.0}},
              num_samples=4, max_epochs=4)
"""


def test_pbt_copies_a_strong_trial_and_trains_on_with_the_perturbed_lr(local_ray, tmp_path):
    out = tmp_path / "run"
    assert sweep_cli.main([str(write_sweep(tmp_path, PBT_SWEEP)), "--results", str(out)]) == 0
    reports = trial_results(out)
    assert len(reports) == 4
    exploits = 0
    for trial_id, lines in reports.items():
        for before, after in zip(lines, lines[1:]):
            if after.get("pbt_path") == before.get("pbt_path"):
                assert after["epoch"] == before["epoch"] + 1  # no copy: the next epoch
                continue
            exploits += 1
            step = after["pbt_path"].split("; ")[-1]  # "@2 from <donor>: lr 0.01->0.012"
            epoch, donor = int(step[1:].split(" ")[0]), step.split("from ")[1].split(":")[0]
            assert donor != trial_id and donor in reports
            assert after["epoch"] == epoch + 1 > 1  # went on from the donor's checkpoint, not from epoch 1
            old, new = (float(v) for v in step.split("lr ")[1].split("->"))
            assert after["lr"] == pytest.approx(new, rel=1e-3) and new != pytest.approx(old)
            assert after["lr"] == after["config"]["lr"]  # the perturbed value is on the optimizer (no schedule)
    assert exploits >= 1
    trials = pd.read_csv(out / "trials.csv").set_index("trial_id")
    for trial_id, lines in reports.items():  # trials.csv: each trial's final hyperparameters and path
        assert lines[-1]["epoch"] == 4 and trials.loc[trial_id, "config/lr"] == lines[-1]["config"]["lr"]
        assert str(trials.loc[trial_id, "pbt_path"]) == str(lines[-1].get("pbt_path", float("nan")))
    trials = trials.reset_index()
    history = pd.read_csv(out / "history.csv")
    copied = trials[trials["pbt_path"].notna()]
    assert len(copied) >= 1
    for trial_id in copied["trial_id"]:  # the model's lineage: every epoch once, the final lr at the last one
        rows = history[history["trial_id"] == trial_id]
        assert list(rows["epoch"]) == [1, 2, 3, 4]
        final_lr = float(trials.set_index("trial_id").loc[trial_id, "config/lr"])
        assert rows["lr"].iloc[-1] == pytest.approx(final_lr)
    report = (out / "report.html").read_text()
    assert "Population-based training" in report and copied["trial_id"].iloc[0] in report
